/**
 * The agent dashboard's part of `npm start`: the static dashboard on its own port, the Worker
 * told to accept that origin, and — when no PBX is configured and Kamailio is installed — a
 * local Kamailio as the SIP-over-WebSocket server the softphone registers to.
 */
import { serveDashboard } from "./dashboard-server.ts";
import { type Kamailio, kamailioMissing, startKamailio } from "./kamailio.ts";
import { DEMO_AGENTS } from "./seed.ts";

/** The SIP password of every extension on the local Kamailio (never used with a real PBX). */
export const LOCAL_SIP_PASSWORD = "demo-sip";

export interface DashboardSide {
  /** Worker variables to add (origins, PBX URL); values already set are left alone. */
  workerVars: Record<string, string>;
  /** Lines for the start-up banner. */
  banner: string[];
  close(): Promise<void>;
}

export async function startDashboardSide(options: {
  dashboardPort: number;
  sipPort: number;
  apiUrl: string;
  /** Variables already decided (environment, .dev.vars). */
  configured: Record<string, string | undefined>;
}): Promise<DashboardSide> {
  const server = await serveDashboard({ port: options.dashboardPort, apiUrl: options.apiUrl });
  const origin = new URL(server.url).origin;
  const workerVars: Record<string, string> = {
    DASHBOARD_ORIGINS: [options.configured.DASHBOARD_ORIGINS, origin].filter(Boolean).join(","),
  };
  let kamailio: Kamailio | undefined;
  let sipLine: string;
  if (options.configured.FUSIONPBX_WSS_URL) {
    sipLine = `  Phone server: ${options.configured.FUSIONPBX_WSS_URL} (FUSIONPBX_WSS_URL)`;
  } else {
    const missing = kamailioMissing();
    if (missing) {
      sipLine = `  Phone server: none — ${missing}; or set FUSIONPBX_WSS_URL to your PBX.`;
    } else {
      kamailio = await startKamailio({ port: options.sipPort, sipPassword: LOCAL_SIP_PASSWORD });
      workerVars.FUSIONPBX_WSS_URL = kamailio.wsUrl;
      if (!options.configured.FUSIONPBX_SIP_DOMAIN)
        workerVars.FUSIONPBX_SIP_DOMAIN = kamailio.domain;
      sipLine = `  Phone server: local Kamailio at ${kamailio.wsUrl}, SIP password "${LOCAL_SIP_PASSWORD}" for every extension`;
    }
  }
  return {
    workerVars,
    banner: [
      `  Agent dashboard: ${server.url}`,
      "  Demo agents (login / password, extension):",
      ...DEMO_AGENTS.map(
        (a) => `    ${a.login} / ${a.password}  ${a.name}, ${a.sipExtension} (${a.department})`,
      ),
      sipLine,
    ],
    close: async () => {
      await Promise.all([server.close(), kamailio?.stop()]);
    },
  };
}
