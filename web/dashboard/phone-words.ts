/**
 * What the softphone tells the agent, in plain words, for JsSIP's causes. Pure, so the
 * wording is tested without a browser.
 */
export function registrationFailureWords(cause: string | undefined): string {
  switch (cause) {
    case "Authentication Error":
      return "Registration failed: the phone server refused this extension's SIP password.";
    case "Connection Error":
      return "Network lost: the phone server cannot be reached. Retrying…";
    case "Request Timeout":
      return "The phone server is not answering. Retrying…";
    case "Not Found":
    case "Rejected":
      return "Registration failed: the phone server does not accept this extension.";
    default:
      return `Registration failed${cause ? ` (${cause})` : ""}. Try again or ask your administrator.`;
  }
}

export function endedCallWords(
  originator: string,
  cause: string,
  call: { answeredAt: number | null; transferringTo: string | null },
): string {
  if (call.transferringTo) return `Transferred to ${call.transferringTo}.`;
  if (!call.answeredAt) {
    if (originator === "local") return "You declined the call.";
    if (cause === "Canceled") return "The caller hung up before you answered.";
    if (cause === "User Denied Media Access")
      return "Microphone blocked: the call could not be answered.";
    return `Missed call (${cause}).`;
  }
  if (cause === "Connection Error" || cause === "Request Timeout" || cause === "RTP Timeout") {
    return "The call dropped: the network was lost.";
  }
  return originator === "local" ? "You hung up." : "The caller hung up.";
}
