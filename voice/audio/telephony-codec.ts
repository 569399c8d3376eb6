/**
 * The two edge conversions of the Twilio bridge, one object per call and direction (each keeps
 * its resampler's history): the browser caller's 16 kHz PCM16LE bytes to a Media Stream's 8 kHz
 * μ-law bytes, and back. 20 ms is 640 bytes ↔ 160 bytes; the resampling adds 2 ms of delay each
 * way (DOWNSAMPLER_GROUP_DELAY, UPSAMPLER_GROUP_DELAY).
 *
 * Byte order: the PCM is read and written through Int16Array views, which use the host's byte
 * order. That is little-endian on every Workers host (x86-64, arm64) and on the machines that
 * run the tests, matching PCM16LE; the check below refuses to load anywhere else rather than
 * turn every call into noise.
 */
import { decodeMulaw, encodeMulaw } from "./mulaw.ts";
import { Downsampler2x, Upsampler2x } from "./resample.ts";

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error("telephony-codec: needs a little-endian host for PCM16LE views");
}

/** Caller (16 kHz PCM16LE) → Twilio (8 kHz μ-law). */
export class CallerToTelephony {
  readonly #down = new Downsampler2x();
  /** Aligned copy of an input whose byte offset is odd (Int16Array views need even offsets). */
  #aligned = new Int16Array(0);
  #alignedBytes = new Uint8Array(0);
  #narrow = new Int16Array(0);

  /**
   * `pcm16le`: any even number of bytes. Writes into `out` when given (at least the returned
   * length), else into a new array; returns half as many bytes as samples in, i.e. 160 for 640.
   */
  encode(pcm16le: Uint8Array, out?: Uint8Array): Uint8Array {
    if (pcm16le.byteLength % 2 !== 0) {
      throw new RangeError(`telephony-codec: ${pcm16le.byteLength} bytes is not whole samples`);
    }
    const samples = pcm16le.byteLength / 2;
    const pcm =
      pcm16le.byteOffset % 2 === 0
        ? new Int16Array(pcm16le.buffer, pcm16le.byteOffset, samples)
        : this.#copyAligned(pcm16le, samples);
    const n = this.#down.outputLength(samples);
    if (this.#narrow.length !== n) this.#narrow = new Int16Array(n);
    this.#down.process(pcm, this.#narrow);
    return encodeMulaw(this.#narrow, out);
  }

  #copyAligned(bytes: Uint8Array, samples: number): Int16Array {
    if (this.#aligned.length !== samples) {
      this.#aligned = new Int16Array(samples);
      this.#alignedBytes = new Uint8Array(this.#aligned.buffer);
    }
    this.#alignedBytes.set(bytes);
    return this.#aligned;
  }
}

/** Twilio (8 kHz μ-law) → caller (16 kHz PCM16LE). */
export class TelephonyToCaller {
  readonly #up = new Upsampler2x();
  #narrow = new Int16Array(0);
  /** Output staging for an `out` whose byte offset is odd. */
  #wide = new Int16Array(0);

  /**
   * `mulaw`: any number of codes. Writes into `out` when given (at least 4 bytes per code), else
   * into a new array; returns 4 bytes per code, i.e. 640 for 160.
   */
  decode(mulaw: Uint8Array, out?: Uint8Array): Uint8Array {
    const m = mulaw.length;
    const bytes = out ?? new Uint8Array(4 * m);
    if (bytes.length < 4 * m) {
      throw new RangeError(`telephony-codec: output holds ${bytes.length} < ${4 * m} bytes`);
    }
    if (this.#narrow.length !== m) this.#narrow = new Int16Array(m);
    decodeMulaw(mulaw, this.#narrow);
    if (bytes.byteOffset % 2 === 0) {
      this.#up.process(this.#narrow, new Int16Array(bytes.buffer, bytes.byteOffset, 2 * m));
    } else {
      if (this.#wide.length !== 2 * m) this.#wide = new Int16Array(2 * m);
      this.#up.process(this.#narrow, this.#wide);
      bytes.set(new Uint8Array(this.#wide.buffer));
    }
    return bytes.length === 4 * m ? bytes : bytes.subarray(0, 4 * m);
  }
}
