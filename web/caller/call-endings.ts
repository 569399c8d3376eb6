/**
 * How a call ends, in the caller's words: from the server's `session_ended`, or from the
 * socket's close code when that is all there is. A call that can no longer be resumed is not
 * an end: the page asks for the PIN again.
 */
import type { ServerMessageOf } from "../../protocol/messages.ts";
import { CLOSE_CODES } from "./connection.ts";

export type Ending =
  | { signIn: true; text: string }
  | { signIn: false; title: string; text: string };

/** The caller hung up (or said goodbye). */
export const HUNG_UP: Ending = {
  signIn: false,
  title: "Call ended",
  text: "Thanks for calling. Goodbye!",
};

export function endingOf(message: ServerMessageOf<"session_ended">): Ending {
  switch (message.reason) {
    case "expired":
      return { signIn: true, text: message.message };
    case "locked_out":
      return { signIn: false, title: "Too many wrong PINs", text: message.message };
    case "replaced":
      return { signIn: false, title: "Continued elsewhere", text: message.message };
    case "hang_up":
      return HUNG_UP;
  }
}

/** The server closed the socket for good without saying why first. */
export function endingOfClose(code: number): Ending {
  switch (code) {
    case CLOSE_CODES.resumeRefused:
    case CLOSE_CODES.expired:
      return {
        signIn: true,
        text: "Your previous call can no longer be resumed. Please sign in again.",
      };
    case CLOSE_CODES.lockedOut:
      return {
        signIn: false,
        title: "Too many wrong PINs",
        text: "This session is closed. Start a new one to try again.",
      };
    case CLOSE_CODES.replaced:
      return {
        signIn: false,
        title: "Continued elsewhere",
        text: "This call continued on another connection.",
      };
    default:
      return {
        signIn: false,
        title: "Disconnected",
        text: "The connection was closed. Start a new call to continue.",
      };
  }
}
