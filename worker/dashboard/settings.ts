/**
 * The dashboard API's settings, resolved once per request from the Worker's variables.
 */
import { type IceServer, iceServers } from "./wire.ts";

export interface DashboardSettings {
  /**
   * Exact origins (scheme://host[:port]) the dashboard is served from. Requests from any other
   * origin are refused. `npm start` sets it to the local dashboard's origin.
   * @default [] (set `DASHBOARD_ORIGINS`, comma-separated)
   */
  allowedOrigins: string[];
  /** @default 12 hours (`AGENT_SESSION_HOURS`) */
  sessionLifetimeMs: number;
  /**
   * `Strict` when the dashboard and the API share a site (e.g. agents.example.com and
   * api.example.com, or 127.0.0.1 on two ports); `None` when they do not (pages.dev and
   * workers.dev), which browsers that block third-party cookies will refuse.
   * @default "Strict" (`AGENT_COOKIE_SAMESITE`)
   */
  cookieSameSite: "Strict" | "None";
  /** The PBX's SIP-over-WebSocket URL (`FUSIONPBX_WSS_URL`). */
  wssUrl: string;
  /** @default the WebSocket URL's host (`FUSIONPBX_SIP_DOMAIN`) */
  sipDomain: string;
  /**
   * STUN/TURN servers for the softphone, as JSON `RTCIceServer[]`; only signed-in agents see it.
   * @default [] (`AGENT_ICE_SERVERS`)
   */
  iceServers: IceServer[];
  /**
   * A TURN server that shares `turnSecret`: each signed-in agent gets credentials of its own,
   * which expire with its dashboard session (turn-credentials.ts).
   * @default [] (`AGENT_TURN_URLS`, comma-separated `turn:`/`turns:` URLs)
   */
  turnUrls: string[];
  /** The TURN server's shared secret (`AGENT_TURN_SECRET`, a Worker secret). */
  turnSecret: string;
}

export interface DashboardEnv {
  DASHBOARD_ORIGINS?: string;
  AGENT_SESSION_HOURS?: string;
  AGENT_COOKIE_SAMESITE?: string;
  AGENT_ICE_SERVERS?: string;
  AGENT_TURN_URLS?: string;
  AGENT_TURN_SECRET?: string;
  FUSIONPBX_WSS_URL?: string;
  FUSIONPBX_SIP_DOMAIN?: string;
}

export function dashboardSettings(env: DashboardEnv): DashboardSettings {
  const hours = Number(env.AGENT_SESSION_HOURS || "12");
  const wssUrl = env.FUSIONPBX_WSS_URL?.trim() ?? "";
  return {
    allowedOrigins: (env.DASHBOARD_ORIGINS ?? "")
      .split(",")
      .map((o) => o.trim().replace(/\/$/, ""))
      .filter(Boolean),
    sessionLifetimeMs: (Number.isFinite(hours) && hours > 0 ? hours : 12) * 3_600_000,
    cookieSameSite: env.AGENT_COOKIE_SAMESITE === "None" ? "None" : "Strict",
    wssUrl,
    sipDomain: env.FUSIONPBX_SIP_DOMAIN?.trim() || (URL.parse(wssUrl)?.hostname ?? ""),
    iceServers: parseIceServers(env.AGENT_ICE_SERVERS),
    ...turnSettings(env.AGENT_TURN_URLS, env.AGENT_TURN_SECRET),
  };
}

function turnSettings(rawUrls: string | undefined, secret: string | undefined) {
  const turnUrls = (rawUrls ?? "")
    .split(",")
    .map((url) => url.trim())
    .filter(Boolean);
  if (turnUrls.some((url) => !/^turns?:/.test(url))) {
    throw new Error("AGENT_TURN_URLS must be turn: or turns: URLs, separated by commas.");
  }
  if (turnUrls.length > 0 && (secret ?? "").length < 16) {
    throw new Error("AGENT_TURN_URLS needs AGENT_TURN_SECRET, the TURN server's shared secret.");
  }
  return { turnUrls, turnSecret: secret ?? "" };
}

function parseIceServers(raw: string | undefined) {
  if (!raw?.trim()) return [];
  try {
    const parsed = iceServers.safeParse(JSON.parse(raw));
    if (parsed.success) return parsed.data;
  } catch {
    // falls through
  }
  throw new Error("AGENT_ICE_SERVERS is not a JSON list of RTCIceServer objects.");
}
