import { describe, expect, it } from "vitest";
import { medianStages, parseTrace, turnStages } from "../../scripts/syscall-timeline.ts";

// `perf trace -e fsync,sendto,recvfrom,write,pwrite64` lines, as it prints them: 10 is the STT,
// 11 the page (through wrangler's proxy, pid 200), 12 Claude, 13 Aura, 14 the database, 6 the eventfd.
const send = (at: number, pid: number, fd: number, len: number) =>
  `${at.toFixed(3).padStart(10)} ( 0.040 ms): workerd/${pid} sendto(fd: ${fd}, buff: 0x3265bd90e000, len: ${len}, flags: NOSIGNAL)      = ${len}`;
const recv = (at: number, pid: number, fd: number, got: number) =>
  `${at.toFixed(3).padStart(10)} ( 0.030 ms): workerd/${pid} recvfrom(fd: ${fd}, ubuf: 0x3265bd84c000, size: 4096)                    = ${got}`;
const wake = (at: number) =>
  `${at.toFixed(3).padStart(10)} ( 0.020 ms): workerd/100 write(fd: 6, buf: 0x7fff82f24c88, count: 8)                           = 8`;
const disk = (at: number) =>
  `${at.toFixed(3).padStart(10)} ( 0.020 ms): workerd/100 pwrite64(fd: 75, buf: 0x7fff82f26d80, count: 24, pos: 741632)         = 24`;

/** One turn starting at `t`: stages of 2, 1.5, 3, 0.5 and 0.25 ms, with 3 wakes and a page send. */
function turn(t: number): string[] {
  return [
    recv(t - 50, 100, 11, 3212),
    send(t - 49.5, 100, 10, 3208),
    recv(t, 100, 10, 649),
    wake(t + 1.9),
    send(t + 2, 100, 12, 8426),
    send(t + 2.1, 100, 12, 8192),
    send(t + 2.2, 100, 12, 2656),
    recv(t + 3.5, 100, 12, 2741),
    wake(t + 4),
    send(t + 4.5, 100, 11, 57),
    wake(t + 5),
    wake(t + 6),
    send(t + 6.5, 100, 13, 70),
    send(t + 6.6, 100, 13, 22),
    recv(t + 7, 100, 13, 2576),
    send(t + 7.25, 100, 11, 16),
    send(t + 20, 100, 14, 1170),
    disk(t + 30),
  ];
}

describe("the syscall timeline of a spoken turn", () => {
  it("reads perf trace's lines, skipping those without a descriptor and a size", () => {
    const calls = parseTrace(
      [
        ...turn(1000),
        "  1001.000 ( 0.689 ms): workerd/100 fsync(fd: 75)                                  = 0",
        "  1002.000 (         ): workerd/100 pwrite64(fd: 75, buf: 0x7fff82f26d80, count: 24, pos: 758112)      ...",
      ].join("\n"),
    );
    expect(calls).toHaveLength(turn(1000).length);
    expect(calls[2]).toEqual({ at: 1000, pid: "100", name: "recvfrom", fd: 10, bytes: 649 });
  });

  it("lays each turn's stages between the sockets it tells apart by their traffic", () => {
    const lines = [
      ...turn(1000),
      recv(1002, 200, 24, 57),
      send(1002.1, 200, 22, 57),
      ...turn(3000),
    ];
    const turns = turnStages(parseTrace(lines.join("\n")));
    expect(turns).toHaveLength(2);
    for (const stages of turns) {
      expect(stages.finalToRequest).toBeCloseTo(2);
      expect(stages.requestToStream).toBeCloseTo(1.5);
      expect(stages.streamToTts).toBeCloseTo(3);
      expect(stages.ttsToAudio).toBeCloseTo(0.5);
      expect(stages.audioToPage).toBeCloseTo(0.25);
      expect(stages.wakesBeforeTts).toBe(3);
      expect(stages.pageSendsBeforeTts).toBe(1);
      expect(stages.requestBytes).toBe(8426);
    }
    expect(medianStages(turns)?.streamToTts).toBeCloseTo(3);
  });

  it("takes a smaller request only when told to (the floor relay's)", () => {
    const small = turn(1000).map((line) =>
      line.replace(/len: 8426\b.*= 8426/, "len: 337, flags: NOSIGNAL) = 337"),
    );
    expect(turnStages(parseTrace(small.join("\n")))).toHaveLength(0);
    expect(turnStages(parseTrace(small.join("\n")), "100", 300)).toHaveLength(1);
  });

  it("finds no turn in a trace without the call's sockets", () => {
    expect(turnStages(parseTrace(disk(1)))).toEqual([]);
    expect(medianStages([])).toBeUndefined();
  });
});
