/** Headers the Worker sets on requests to the CallSession object; clients can never supply them. */
export const CLIENT_IP_HEADER = "x-convonet-client-ip";
export const SESSION_MODE_HEADER = "x-convonet-session-mode";
export const INTERNAL_HEADER_PREFIX = "x-convonet-";
