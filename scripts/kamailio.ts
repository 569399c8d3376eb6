/**
 * Kamailio from Debian's packages as a local SIP-over-WebSocket registrar and proxy: it stands
 * in for FusionPBX's WSS side for `npm start` and the dashboard's end-to-end test. Unprivileged,
 * in the foreground (`-DD -E`), on a loopback port; stopping kills its main process.
 *
 * REGISTER needs digest auth with one shared password (every extension); other requests are
 * not challenged, as a PBX's trunk side (Twilio) would not be. WebSocket clients sit behind
 * "NAT" as far as SIP is concerned (their Via says *.invalid), hence nathelper's aliases.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BINARY = "/usr/sbin/kamailio";
const MODULE_DIRS = [
  "/usr/lib/x86_64-linux-gnu/kamailio/modules",
  "/usr/lib/aarch64-linux-gnu/kamailio/modules",
  "/usr/lib/kamailio/modules",
];

function moduleDir(): string | undefined {
  return MODULE_DIRS.find((dir) => existsSync(join(dir, "websocket.so")));
}

/** Why Kamailio cannot run here, or null when it can. */
export function kamailioMissing(): string | null {
  if (!existsSync(BINARY))
    return `Kamailio is not installed (${BINARY}; apt-get install kamailio kamailio-websocket-modules)`;
  if (!moduleDir())
    return "Kamailio's WebSocket module is missing (apt-get install kamailio-websocket-modules)";
  return null;
}

export interface Kamailio {
  /** ws://127.0.0.1:PORT — what JsSIP connects to. */
  wsUrl: string;
  port: number;
  /** The SIP domain extensions register in. */
  domain: string;
  stop(): Promise<void>;
  /** Kamailio's own log so far (stderr), for a failing test's message. */
  log(): string;
}

export function kamailioConfig(options: {
  port: number;
  sipPassword: string;
  mpath: string;
}): string {
  if (!/^[A-Za-z0-9._~-]+$/.test(options.sipPassword))
    throw new Error("SIP password: letters, digits, . _ ~ - only");
  return `#!KAMAILIO
debug=2
log_stderror=yes
children=2
tcp_children=4
auto_aliases=no
listen=tcp:127.0.0.1:${options.port}
alias="127.0.0.1:${options.port}"
tcp_accept_no_cl=yes
tcp_connection_lifetime=3605
mpath="${options.mpath}"

loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "nathelper.so"
loadmodule "auth.so"
loadmodule "xhttp.so"
loadmodule "websocket.so"

modparam("usrloc", "db_mode", 0)
# A closed browser tab must not leave a contact behind that later calls are sent to.
modparam("usrloc", "handle_lost_tcp", 1)
modparam("registrar", "max_expires", 600)
modparam("nathelper|registrar", "received_avp", "$avp(RECEIVED)")

request_route {
  if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
  if (nat_uac_test("64")) {
    force_rport();
    if (is_method("REGISTER")) fix_nated_register();
    else add_contact_alias();
  }
  if (has_totag()) {
    if (loose_route()) { handle_ruri_alias(); route(RELAY); }
    if (is_method("ACK")) { if (t_check_trans()) route(RELAY); exit; }
    sl_send_reply("404", "Not here");
    exit;
  }
  if (is_method("CANCEL")) { if (t_check_trans()) route(RELAY); exit; }
  t_check_trans();
  remove_hf("Route");
  if (is_method("INVITE|SUBSCRIBE|REFER")) record_route();
  if (is_method("REGISTER")) {
    if (!pv_www_authenticate("$td", "${options.sipPassword}", "0")) {
      www_challenge("$td", "0");
      exit;
    }
    consume_credentials();
    if (!save("location")) sl_reply_error();
    exit;
  }
  if (!lookup("location")) { sl_send_reply("480", "Temporarily Unavailable"); exit; }
  route(RELAY);
}

route[RELAY] {
  if (is_method("INVITE|UPDATE")) t_on_reply("REPLY");
  if (!t_relay()) sl_reply_error();
  exit;
}

onreply_route[REPLY] {
  if (nat_uac_test("64")) add_contact_alias();
}

event_route[xhttp:request] {
  if ($hdr(Upgrade) =~ "websocket" && $hdr(Connection) =~ "Upgrade" && $rm =~ "GET") {
    if (ws_handle_handshake()) exit;
  }
  xhttp_reply("404", "Not Found", "", "");
}
`;
}

export async function startKamailio(options: {
  port: number;
  sipPassword: string;
}): Promise<Kamailio> {
  const missing = kamailioMissing();
  const mpath = moduleDir();
  if (missing || !mpath) throw new Error(missing ?? "Kamailio modules not found");
  const dir = mkdtempSync(join(tmpdir(), "convonet-kamailio-"));
  const cfg = join(dir, "kamailio.cfg");
  writeFileSync(cfg, kamailioConfig({ ...options, mpath }));
  const child = spawn(
    BINARY,
    ["-DD", "-E", "-f", cfg, "-Y", dir, "-P", join(dir, "kamailio.pid"), "-m", "64", "-M", "8"],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let log = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-200_000);
  });
  const stop = async () => {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(options.port, child, () => log);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    wsUrl: `ws://127.0.0.1:${options.port}`,
    port: options.port,
    domain: "127.0.0.1",
    stop,
    log: () => log,
  };
}

async function waitForPort(port: number, child: ChildProcess, log: () => string) {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`Kamailio exited (${child.exitCode}):\n${log().slice(-3000)}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Kamailio did not listen on ${port} within 10 s:\n${log().slice(-3000)}`);
}

async function stopChild(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 3_000);
  await exited;
  clearTimeout(timer);
}
