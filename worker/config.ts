/**
 * The Worker's settings, parsed once per isolate from its variables (wrangler.toml [vars],
 * .dev.vars, secrets). Every number and default is written here and nowhere else; the rest of
 * the code reads `config(env)`, never `env.X` directly.
 */

export interface Config {
  /** Wrong PINs before a session closes. @default 5 */
  pinMaxAttemptsPerSession: number;
  /**
   * Wrong PINs per client address (IPv4 address, IPv6 /64) across sessions, in the window
   * below; beyond it only accounts known at that address sign in there. (The dashboard's
   * agent logins use it as their attempt limit.) @default 20
   */
  pinThrottleMaxAttempts: number;
  /** @default 900 s */
  pinThrottleWindowMs: number;
  /** Wrong PINs per IPv6 /48 in the same window (a /48 holds 65 536 /64s). @default 100 */
  pinThrottlePrefix48MaxFailures: number;
  /**
   * Failures at one address after which even accounts known there are refused until the
   * window passes: it bounds the guesses an attacker sharing their network can try against
   * them. At least `pinThrottleMaxAttempts`. @default 100
   */
  pinThrottleHardMaxFailures: number;
  /**
   * Wrong PINs across the whole service in its window before sign-in pauses for every account
   * from networks it has not used recently (the per-account limit: sign-in-limits.ts).
   * @default 1000
   */
  pinGlobalMaxFailures: number;
  /** @default 3600 s */
  pinGlobalWindowMs: number;
  /** How long an account stays known at an address after signing in there. @default 30 days */
  pinKnownNetworkMs: number;
  /** How long a dropped session can be resumed. @default 600 s */
  resumeWindowMs: number;
  /**
   * Where a new call's session object is placed: a Durable Object location hint, or undefined
   * for none (Cloudflare then places it near the caller's first request). Near the providers a
   * turn waits for (Deepgram's default endpoint and Anthropic's API, in the US), a turn crosses
   * the distance between the caller and them twice: the caller's words in, the reply's audio out.
   * Near the caller, six times (the audio to Deepgram and its final transcript back, Claude's
   * request and first token, Aura's request and first audio), and twice more for each tool's
   * query (Neon's default region is in the eastern US) and each model call after it. Measured:
   * docs/benchmarks.md, sixteenth session. `SESSION_LOCATION_HINT`: a hint, or `none`.
   * @default enam
   */
  sessionLocationHint: DurableObjectLocationHint | undefined;
  agent: AgentConfig | undefined;
  voice: VoiceConfig | undefined;
  /** Undefined when Twilio or the PBX is not set up: transfers are refused plainly. */
  transfer: TransferConfig | undefined;
  /** Why `transfer` is undefined, for the log (never shown with values). */
  transferMissing: string[];
}

export interface AgentConfig {
  apiKey: string;
  model: string;
  baseUrl: string | undefined;
  /**
   * A model stream silent this long is given up and retried. Shorter than the retry budget
   * (8 s from the turn's start), so a stalled stream still gets its retry. @default 6000
   */
  modelIdleTimeoutMs: number;
  /** First backoff after a failed model call. @default 250 */
  retryBaseDelayMs: number;
  /** Longest a tool may run. @default 5000 */
  toolTimeoutMs: number;
  /** Longest the transfer summary (a short non-streamed call) may take. @default 4000 */
  summaryTimeoutMs: number;
}

export interface VoiceConfig {
  apiKey: string;
  baseUrl: string;
  sttModel: string;
  ttsModel: string;
  ttsTransport: "websocket" | "http";
  /** Words the caller must say over the assistant to interrupt it. @default 2 */
  bargeInMinWords: number;
  /**
   * Longest wait for Aura's next audio of a sentence — its first byte (connecting included) or
   * the next chunk. Past it the sentence fails: the reply stays text and the caller hears the
   * apology clip. @default 4000
   */
  ttsTimeoutMs: number;
  /**
   * Longest Deepgram's live transcription may leave a connection attempt, or the audio sent to
   * an open socket, unanswered before the socket is given up and reopened. @default 5000
   */
  sttSilentTimeoutMs: number;
  /**
   * Reopening a lost transcription socket: at once, then after this wait, doubling (with jitter)
   * up to `sttReconnectMaxMs`. @default 250
   */
  sttReconnectBaseMs: number;
  /** @default 4000 */
  sttReconnectMaxMs: number;
  /**
   * How long transcription may stay unreachable (the caller's audio kept meanwhile, up to 30 s)
   * before the caller is asked to type instead. @default 30000
   */
  sttGiveUpAfterMs: number;
  /**
   * A model retry that keeps the caller waiting this long in silence is announced aloud
   * ("One moment, please."). @default 1500
   */
  holdOnAfterMs: number;
  /**
   * A tool still running this long, with nothing playing, gets a short "One moment…" aloud (not
   * part of the reply). @default 1000
   */
  toolHoldOnMs: number;
  /**
   * Silence this long in a voice call — no caller speech or text, no reply thinking or playing,
   * no transfer — and the assistant checks in gently. @default 12000
   */
  silenceCheckInMs: number;
  /** Silence this long (from the same start) and the assistant says goodbye and ends the call. @default 45000 */
  silenceGoodbyeMs: number;
}

export interface TransferConfig {
  accountSid: string;
  authToken: string;
  /** The number (or client id) Twilio calls from. */
  callerId: string;
  /** @default https://api.twilio.com */
  apiBaseUrl: string;
  /** Host part of `sip:EXT@DOMAIN`. */
  sipDomain: string;
  /** Optional digest credentials for the PBX. */
  sipAuth: { username: string; password: string } | undefined;
  /** Where Twilio reaches this Worker (webhooks and the media stream), without a trailing slash. */
  publicUrl: string;
  /** Seconds the human's phone rings before the transfer fails as no answer. @default 30 */
  ringTimeoutSeconds: number;
  /** After "answered", how long the media stream may take to connect. @default 8000 */
  mediaStartTimeoutMs: number;
  /** The extension rung when the department has no active agent with one. @default 2001 */
  defaultExtension: string;
  /**
   * `transcode` (μ-law 8 kHz both ways, what Twilio speaks) or `relay` — frames passed on
   * untouched, which Twilio cannot play: only the bridge benchmark's baseline uses it.
   * @default transcode
   */
  bridgeAudio: "transcode" | "relay";
}

const DEFAULTS = {
  pinMaxAttemptsPerSession: 5,
  pinThrottleMaxAttempts: 20,
  pinThrottleWindowSeconds: 900,
  pinThrottlePrefix48MaxFailures: 100,
  pinThrottleHardMaxFailures: 100,
  pinGlobalMaxFailures: 1000,
  pinGlobalWindowSeconds: 3600,
  pinKnownNetworkDays: 30,
  resumeWindowSeconds: 600,
  sessionLocationHint: "enam",
  modelIdleTimeoutMs: 6_000,
  retryBaseDelayMs: 250,
  toolTimeoutMs: 5_000,
  summaryTimeoutMs: 4_000,
  anthropicModel: "claude-haiku-4-5",
  deepgramBaseUrl: "https://api.deepgram.com",
  sttModel: "nova-3",
  ttsModel: "aura-2-thalia-en",
  bargeInMinWords: 2,
  ttsTimeoutMs: 4_000,
  sttSilentTimeoutMs: 5_000,
  sttReconnectBaseMs: 250,
  sttReconnectMaxMs: 4_000,
  sttGiveUpAfterMs: 30_000,
  holdOnAfterMs: 1_500,
  toolHoldOnMs: 1_000,
  silenceCheckInMs: 12_000,
  silenceGoodbyeMs: 45_000,
  twilioApiBaseUrl: "https://api.twilio.com",
  ringTimeoutSeconds: 30,
  mediaStartTimeoutMs: 8_000,
  defaultExtension: "2001",
} as const;

/** The variables this module reads; `Env` has them all, tests may pass fewer. */
export type ConfigSource = Partial<Record<keyof typeof NAMES, string | undefined>>;
const NAMES = {
  PIN_MAX_ATTEMPTS_PER_SESSION: 0,
  PIN_THROTTLE_MAX_ATTEMPTS: 0,
  PIN_THROTTLE_WINDOW_SECONDS: 0,
  PIN_THROTTLE_PREFIX48_MAX_FAILURES: 0,
  PIN_THROTTLE_HARD_MAX_FAILURES: 0,
  PIN_GLOBAL_MAX_FAILURES: 0,
  PIN_GLOBAL_WINDOW_SECONDS: 0,
  PIN_KNOWN_NETWORK_DAYS: 0,
  RESUME_WINDOW_SECONDS: 0,
  SESSION_LOCATION_HINT: 0,
  ANTHROPIC_API_KEY: 0,
  ANTHROPIC_MODEL: 0,
  ANTHROPIC_BASE_URL: 0,
  AGENT_MODEL_IDLE_TIMEOUT_MS: 0,
  AGENT_RETRY_BASE_DELAY_MS: 0,
  AGENT_TOOL_TIMEOUT_MS: 0,
  TRANSFER_SUMMARY_TIMEOUT_MS: 0,
  DEEPGRAM_API_KEY: 0,
  DEEPGRAM_BASE_URL: 0,
  DEEPGRAM_STT_MODEL: 0,
  DEEPGRAM_TTS_MODEL: 0,
  DEEPGRAM_TTS_TRANSPORT: 0,
  BARGE_IN_MIN_WORDS: 0,
  DEEPGRAM_TTS_TIMEOUT_MS: 0,
  DEEPGRAM_STT_SILENT_TIMEOUT_MS: 0,
  DEEPGRAM_STT_RECONNECT_BASE_MS: 0,
  DEEPGRAM_STT_RECONNECT_MAX_MS: 0,
  DEEPGRAM_STT_GIVE_UP_MS: 0,
  VOICE_HOLD_ON_AFTER_MS: 0,
  VOICE_TOOL_HOLD_ON_MS: 0,
  VOICE_SILENCE_CHECK_IN_MS: 0,
  VOICE_SILENCE_GOODBYE_MS: 0,
  TWILIO_ACCOUNT_SID: 0,
  TWILIO_AUTH_TOKEN: 0,
  TWILIO_CALLER_ID: 0,
  TWILIO_API_BASE_URL: 0,
  FUSIONPBX_SIP_DOMAIN: 0,
  FUSIONPBX_SIP_USERNAME: 0,
  FUSIONPBX_SIP_PASSWORD: 0,
  PUBLIC_URL: 0,
  TRANSFER_RING_TIMEOUT_SECONDS: 0,
  TRANSFER_MEDIA_TIMEOUT_MS: 0,
  TRANSFER_DEFAULT_EXTENSION: 0,
  TRANSFER_BRIDGE_AUDIO: 0,
} as const;

const cache = new WeakMap<object, Config>();

/** The parsed settings of this environment (parsed on first use, then cached). */
export function config(env: ConfigSource): Config {
  let parsed = cache.get(env);
  if (!parsed) {
    parsed = parseConfig(env);
    cache.set(env, parsed);
  }
  return parsed;
}

export function parseConfig(env: ConfigSource): Config {
  const text = (name: keyof typeof NAMES) => env[name]?.trim() || undefined;
  const num = (name: keyof typeof NAMES, fallback: number, min = 0) => {
    const value = Number(text(name));
    return Number.isFinite(value) && value >= min && text(name) !== undefined ? value : fallback;
  };
  const anthropicKey = text("ANTHROPIC_API_KEY");
  const deepgramKey = text("DEEPGRAM_API_KEY");
  const transfer = transferConfig(text, num);
  const pinThrottleMaxAttempts = num(
    "PIN_THROTTLE_MAX_ATTEMPTS",
    DEFAULTS.pinThrottleMaxAttempts,
    1,
  );
  return {
    pinMaxAttemptsPerSession: num(
      "PIN_MAX_ATTEMPTS_PER_SESSION",
      DEFAULTS.pinMaxAttemptsPerSession,
      1,
    ),
    pinThrottleMaxAttempts,
    pinThrottleWindowMs:
      num("PIN_THROTTLE_WINDOW_SECONDS", DEFAULTS.pinThrottleWindowSeconds, 1) * 1000,
    pinThrottlePrefix48MaxFailures: num(
      "PIN_THROTTLE_PREFIX48_MAX_FAILURES",
      DEFAULTS.pinThrottlePrefix48MaxFailures,
      1,
    ),
    pinThrottleHardMaxFailures: Math.max(
      pinThrottleMaxAttempts,
      num("PIN_THROTTLE_HARD_MAX_FAILURES", DEFAULTS.pinThrottleHardMaxFailures, 1),
    ),
    pinGlobalMaxFailures: num("PIN_GLOBAL_MAX_FAILURES", DEFAULTS.pinGlobalMaxFailures, 1),
    pinGlobalWindowMs: num("PIN_GLOBAL_WINDOW_SECONDS", DEFAULTS.pinGlobalWindowSeconds, 1) * 1000,
    pinKnownNetworkMs: num("PIN_KNOWN_NETWORK_DAYS", DEFAULTS.pinKnownNetworkDays, 0) * 86_400_000,
    resumeWindowMs: num("RESUME_WINDOW_SECONDS", DEFAULTS.resumeWindowSeconds, 1) * 1000,
    sessionLocationHint: locationHint(text("SESSION_LOCATION_HINT")),
    agent: anthropicKey
      ? {
          apiKey: anthropicKey,
          model: text("ANTHROPIC_MODEL") ?? DEFAULTS.anthropicModel,
          baseUrl: text("ANTHROPIC_BASE_URL"),
          modelIdleTimeoutMs: num("AGENT_MODEL_IDLE_TIMEOUT_MS", DEFAULTS.modelIdleTimeoutMs, 1),
          retryBaseDelayMs: num("AGENT_RETRY_BASE_DELAY_MS", DEFAULTS.retryBaseDelayMs, 1),
          toolTimeoutMs: num("AGENT_TOOL_TIMEOUT_MS", DEFAULTS.toolTimeoutMs, 1),
          summaryTimeoutMs: num("TRANSFER_SUMMARY_TIMEOUT_MS", DEFAULTS.summaryTimeoutMs, 1),
        }
      : undefined,
    voice: deepgramKey
      ? {
          apiKey: deepgramKey,
          baseUrl: text("DEEPGRAM_BASE_URL") ?? DEFAULTS.deepgramBaseUrl,
          sttModel: text("DEEPGRAM_STT_MODEL") ?? DEFAULTS.sttModel,
          ttsModel: text("DEEPGRAM_TTS_MODEL") ?? DEFAULTS.ttsModel,
          ttsTransport: text("DEEPGRAM_TTS_TRANSPORT") === "http" ? "http" : "websocket",
          bargeInMinWords: num("BARGE_IN_MIN_WORDS", DEFAULTS.bargeInMinWords, 1),
          ttsTimeoutMs: num("DEEPGRAM_TTS_TIMEOUT_MS", DEFAULTS.ttsTimeoutMs, 1),
          sttSilentTimeoutMs: num("DEEPGRAM_STT_SILENT_TIMEOUT_MS", DEFAULTS.sttSilentTimeoutMs, 1),
          sttReconnectBaseMs: num("DEEPGRAM_STT_RECONNECT_BASE_MS", DEFAULTS.sttReconnectBaseMs, 1),
          sttReconnectMaxMs: num("DEEPGRAM_STT_RECONNECT_MAX_MS", DEFAULTS.sttReconnectMaxMs, 1),
          sttGiveUpAfterMs: num("DEEPGRAM_STT_GIVE_UP_MS", DEFAULTS.sttGiveUpAfterMs, 1),
          holdOnAfterMs: num("VOICE_HOLD_ON_AFTER_MS", DEFAULTS.holdOnAfterMs, 0),
          ...silenceSettings(num),
        }
      : undefined,
    transfer: transfer.config,
    transferMissing: transfer.missing,
  };
}

/** Durable Objects' location hints: the keys of a record typed by workerd's own list, so none is missing. */
const LOCATION_HINTS = Object.keys({
  wnam: true,
  enam: true,
  sam: true,
  weur: true,
  eeur: true,
  apac: true,
  "apac-ne": true,
  "apac-se": true,
  oc: true,
  afr: true,
  me: true,
} satisfies Record<DurableObjectLocationHint, true>) as DurableObjectLocationHint[];

/** A hint, `none`, or (unset or not a hint) the default: written in any case. */
function locationHint(value: string | undefined): DurableObjectLocationHint | undefined {
  const name = value?.toLowerCase();
  if (name === "none") return undefined;
  return LOCATION_HINTS.find((hint) => hint === name) ?? DEFAULTS.sessionLocationHint;
}

/** The goodbye never comes before the check-in. */
function silenceSettings(
  num: (name: keyof typeof NAMES, fallback: number, min?: number) => number,
): Pick<VoiceConfig, "toolHoldOnMs" | "silenceCheckInMs" | "silenceGoodbyeMs"> {
  const silenceCheckInMs = num("VOICE_SILENCE_CHECK_IN_MS", DEFAULTS.silenceCheckInMs, 1);
  return {
    toolHoldOnMs: num("VOICE_TOOL_HOLD_ON_MS", DEFAULTS.toolHoldOnMs, 0),
    silenceCheckInMs,
    silenceGoodbyeMs: Math.max(
      silenceCheckInMs,
      num("VOICE_SILENCE_GOODBYE_MS", DEFAULTS.silenceGoodbyeMs, 1),
    ),
  };
}

function transferConfig(
  text: (name: keyof typeof NAMES) => string | undefined,
  num: (name: keyof typeof NAMES, fallback: number, min?: number) => number,
): { config: TransferConfig | undefined; missing: string[] } {
  const required = {
    accountSid: text("TWILIO_ACCOUNT_SID"),
    authToken: text("TWILIO_AUTH_TOKEN"),
    callerId: text("TWILIO_CALLER_ID"),
    sipDomain: text("FUSIONPBX_SIP_DOMAIN"),
    publicUrl: text("PUBLIC_URL"),
  };
  const missing = Object.entries({
    TWILIO_ACCOUNT_SID: required.accountSid,
    TWILIO_AUTH_TOKEN: required.authToken,
    TWILIO_CALLER_ID: required.callerId,
    FUSIONPBX_SIP_DOMAIN: required.sipDomain,
    PUBLIC_URL: required.publicUrl,
  }).flatMap(([name, value]) => (value ? [] : [name]));
  const publicUrl = required.publicUrl ? URL.parse(required.publicUrl) : null;
  if (required.publicUrl && !publicUrl) missing.push("PUBLIC_URL (not a URL)");
  const { accountSid, authToken, callerId, sipDomain } = required;
  if (missing.length || !accountSid || !authToken || !callerId || !sipDomain || !publicUrl) {
    return { config: undefined, missing };
  }
  const username = text("FUSIONPBX_SIP_USERNAME");
  const password = text("FUSIONPBX_SIP_PASSWORD");
  return {
    missing,
    config: {
      accountSid,
      authToken,
      callerId,
      apiBaseUrl: (text("TWILIO_API_BASE_URL") ?? DEFAULTS.twilioApiBaseUrl).replace(/\/+$/, ""),
      sipDomain,
      sipAuth: username && password ? { username, password } : undefined,
      publicUrl: publicUrl.origin + publicUrl.pathname.replace(/\/+$/, ""),
      ringTimeoutSeconds: Math.min(
        600,
        num("TRANSFER_RING_TIMEOUT_SECONDS", DEFAULTS.ringTimeoutSeconds, 1),
      ),
      mediaStartTimeoutMs: num("TRANSFER_MEDIA_TIMEOUT_MS", DEFAULTS.mediaStartTimeoutMs, 1),
      defaultExtension: text("TRANSFER_DEFAULT_EXTENSION") ?? DEFAULTS.defaultExtension,
      bridgeAudio: text("TRANSFER_BRIDGE_AUDIO") === "relay" ? "relay" : "transcode",
    },
  };
}
