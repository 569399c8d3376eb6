/** Headers the Worker sets on requests to the CallSession object; clients can never supply them. */
export const CLIENT_IP_HEADER = "x-convonet-client-ip";
export const SESSION_MODE_HEADER = "x-convonet-session-mode";
/** "media" for Twilio's media stream of a transfer; absent for the caller's page. */
export const SOCKET_ROLE_HEADER = "x-convonet-socket-role";
export const INTERNAL_HEADER_PREFIX = "x-convonet-";
