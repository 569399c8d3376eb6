/**
 * Typed failures of the voice providers (Deepgram's transcription and Aura), saying whether
 * trying again can help: a refused key will be refused again, a dropped socket or a 503 may not.
 */
export class VoiceProviderError extends Error {
  readonly retryable: boolean;
  /** The HTTP status the provider answered, when it answered one. */
  readonly status: number | undefined;

  constructor(
    message: string,
    options: { retryable: boolean; status?: number; cause?: unknown } = { retryable: true },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "VoiceProviderError";
    this.retryable = options.retryable;
    this.status = options.status;
  }

  /** A refused request or upgrade: only the provider's own trouble (429, 5xx) is worth retrying. */
  static refused(what: string, status: number): VoiceProviderError {
    return new VoiceProviderError(`${what} refused the connection (HTTP ${status}).`, {
      retryable: status === 429 || status >= 500,
      status,
    });
  }
}

/** A provider kept us waiting past its deadline; the request was abandoned. */
export class ProviderTimeoutError extends VoiceProviderError {
  constructor(message: string) {
    super(message, { retryable: true });
    this.name = "ProviderTimeoutError";
  }
}
