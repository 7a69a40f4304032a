import Foundation
import MMHDF5
import TestSupport
import XCTest

/// The faults a shared cluster brings, injected into real runs: mid-epoch checkpoints, a corrupt checkpoint,
/// a kill while rank 0 writes, a changed data file, another world size on resume, a full disk, a hanging
/// rank (watchdog), a SIGKILLed rank, a diverged replica, a second Ctrl-C.
final class FaultTests: MultiRankTestCase {
  func config(runDir: String, epochs: Int, samples: Int = 96) throws -> RunConfig {
    let data = path("data.h5")
    if !FileManager.default.fileExists(atPath: data) { _ = try TestData.synth(samples: samples, to: data) }
    var config = RunConfig.small(data: data, runDir: runDir)
    config["train.epochs"] = "\(epochs)"
    return config
  }

  func assertSameTensors(_ a: String, _ b: String, file: StaticString = #filePath, line: UInt = #line) throws {
    for group in ["/params", "/optimizer"] {
      let expected = try RunOutputs.tensors(group, of: a), actual = try RunOutputs.tensors(group, of: b)
      XCTAssertFalse(expected.isEmpty, file: file, line: line)
      for (name, values) in expected {
        XCTAssertTrue(actual[name] == values, "\(group)/\(name) differs between \(a) and \(b)", file: file, line: line)
      }
    }
  }

  // MARK: - checkpoint.every_steps

  func testEveryStepsWritesMidEpochCheckpointsAndResumingOneIsExact() throws {
    var c = try config(runDir: path("run"), epochs: 3)
    c["checkpoint.every_steps"] = "3"
    c["checkpoint.keep"] = "100"
    let run = try mmtrain(ranks: 2, ["train", "--config", try c.write(to: path("c.yaml"))])
    XCTAssertEqual(run.status, 0, run.transcript)
    let names = try FileManager.default.contentsOfDirectory(atPath: path("run")).filter { $0.hasPrefix("checkpoint-") }
      .sorted()
    // 96 samples, 20% validation: 77 train rows, batch 12: 7 steps/epoch, 21 steps; every 3rd step is saved.
    let mid = names.filter { $0.contains("-s") }
    XCTAssertTrue(mid.contains("checkpoint-e0000-s00003.h5") && mid.contains("checkpoint-e0001-s00002.h5"), "\(names)")
    XCTAssertTrue(names.contains("checkpoint-e0003.h5"), "\(names)")

    // Continue from one of them in another directory: ends equal to the straight run.
    try FileManager.default.createDirectory(atPath: path("again"), withIntermediateDirectories: true)
    try FileManager.default.copyItem(
      atPath: path("run/checkpoint-e0001-s00002.h5"), toPath: path("again/checkpoint-e0001-s00002.h5"))
    let resumed = try mmtrain(
      ranks: 2,
      ["train", "--resume", path("again/checkpoint-e0001-s00002.h5"), "--set", "checkpoint.dir=\(path("again"))"])
    XCTAssertEqual(resumed.status, 0, resumed.transcript)
    try assertSameTensors(path("run/checkpoint-e0003.h5"), path("again/latest"))
  }

  // MARK: - checksums

  /// Flips one byte inside the stored values of /params/head.bias: HDF5's Fletcher-32 check must catch it.
  func corrupt(_ checkpoint: String) throws {
    let values = try RunOutputs.tensors("/params", of: checkpoint)["fusion.lstm.weight_ih_l0"]!
    let needle = values.prefix(4).withUnsafeBytes { Data($0) }
    var bytes = try Data(contentsOf: URL(fileURLWithPath: checkpoint))
    let at = try XCTUnwrap(bytes.range(of: needle), "values not found in \(checkpoint)")
    bytes[at.lowerBound + 1] ^= 0x40
    try bytes.write(to: URL(fileURLWithPath: checkpoint))
  }

  func testCorruptCheckpointIsNamedAndResumeFallsBackToTheNewestValidOne() throws {
    let run = path("run")
    let c = try config(runDir: run, epochs: 3)
    let first = try mmtrain(ranks: 2, ["train", "--config", try c.write(to: path("c.yaml"))])
    XCTAssertEqual(first.status, 0, first.transcript)
    let latest = run + "/checkpoint-e0003.h5"
    try corrupt(latest)

    let direct = try mmtrain(ranks: 2, ["train", "--resume", latest, "--set", "train.epochs=4"])
    XCTAssertEqual(direct.status, 1, direct.transcript)
    XCTAssertEqual(direct.errorLines.count, 1, direct.transcript)
    XCTAssertTrue(
      direct.stderr.contains("checkpoint-e0003.h5: /params/fusion.lstm.weight_ih_l0 is corrupt"), direct.transcript)

    let fallback = try mmtrain(ranks: 2, ["train", "--resume", run, "--set", "train.epochs=4", "--progress", "lines"])
    XCTAssertEqual(fallback.status, 0, fallback.transcript)
    XCTAssertEqual(
      occurrences(of: "resuming from the newest valid checkpoint, checkpoint-e0002.h5", in: fallback.stderr), 1,
      fallback.transcript)
    XCTAssertEqual(
      fallback.stdoutLines(startingWith: "epoch ").map { $0.prefix(9) }, ["epoch 3/4", "epoch 4/4"], fallback.transcript
    )
  }

  // MARK: - kill while writing

  /// Rank 0 (here: the only rank, so the kill lands on the writer itself) is SIGKILLed at a random moment
  /// while it checkpoints after every step; every time, `--resume RUN_DIR` must work. Trials:
  /// $MMTRAIN_KILL_TRIALS (default 100).
  func testKillDuringCheckpointWritesAlwaysLeavesAResumableRun() throws {
    guard let binary = Harness.mmtrainBinary() else { return }
    let trials = Int(ProcessInfo.processInfo.environment["MMTRAIN_KILL_TRIALS"] ?? "") ?? 100
    var c = try config(runDir: "RUN", epochs: 1000)
    c["checkpoint.every_steps"] = "1"
    c["checkpoint.keep"] = "2"
    var generator = SystemRandomNumberGenerator()
    var resumable = 0, midWrite = 0, fellBack = 0, failures: [String] = []
    for trial in 0..<trials {
      let runDir = path("run-\(trial)")
      c["checkpoint.dir"] = RunConfig.quoted(runDir)
      let yaml = try c.write(to: path("kill.yaml"))
      let p = Process()
      p.executableURL = URL(fileURLWithPath: binary)
      p.arguments = ["train", "--config", yaml, "--progress", "lines"]
      p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice
      try p.run()
      // Wait for the first checkpoint (before it there is nothing to resume), then a random 0-300 ms.
      let start = Date()
      while !FileManager.default.fileExists(atPath: runDir + "/latest"), p.isRunning,
        Date().timeIntervalSince(start) < 30
      { usleep(2_000) }
      usleep(UInt32.random(in: 0..<300_000, using: &generator))
      kill(p.processIdentifier, SIGKILL)
      p.waitUntilExit()
      let leftovers =
        (try? FileManager.default.contentsOfDirectory(atPath: runDir))?.filter { $0.contains(".tmp-") } ?? []
      if !leftovers.isEmpty { midWrite += 1 }
      let resume = try mmtrain(ranks: 0, ["train", "--resume", runDir, "--set", "train.epochs=1"], timeout: 60)
      if resume.status == 0 { resumable += 1 } else { failures.append("trial \(trial): \(resume.transcript)") }
      if resume.stderr.contains("resuming from the newest valid checkpoint") { fellBack += 1 }
      try? FileManager.default.removeItem(atPath: runDir)
    }
    print(
      "kill-while-writing: \(trials) trials, \(midWrite) killed with a checkpoint half-written, \(resumable) resumed with --resume, \(fellBack) needed a fallback from latest"
    )
    XCTAssertEqual(resumable, trials, failures.prefix(3).joined(separator: "\n"))
    XCTAssertEqual(fellBack, 0, "latest itself must always be loadable (temp file, fsync, rename)")
    XCTAssertGreaterThan(midWrite, 0, "no kill landed inside a checkpoint write: the test did not test what it claims")
  }

  // MARK: - data fingerprint

  func testResumeAgainstAChangedDataFileIsRefusedUnlessAllowed() throws {
    let run = path("run")
    let c = try config(runDir: run, epochs: 2)
    XCTAssertEqual(try mmtrain(ranks: 2, ["train", "--config", try c.write(to: path("c.yaml"))]).status, 0)
    _ = try TestData.synth(samples: 120, to: path("data.h5"), seed: 9)  // same datasets, more rows

    let refused = try mmtrain(ranks: 2, ["train", "--resume", run, "--set", "train.epochs=3"])
    XCTAssertEqual(refused.status, 1, refused.transcript)
    XCTAssertEqual(refused.errorLines.count, 1, refused.transcript)
    XCTAssertTrue(
      refused.stderr.contains("changed since") && refused.stderr.contains("size ")
        && refused.stderr.contains("--allow-data-change"), refused.transcript)

    let allowed = try mmtrain(
      ranks: 2, ["train", "--resume", run, "--set", "train.epochs=3", "--allow-data-change", "--progress", "lines"])
    XCTAssertEqual(allowed.status, 0, allowed.transcript)
    XCTAssertTrue(allowed.stdout.contains("resuming anyway (--allow-data-change)"), allowed.transcript)
  }

  // MARK: - another world size

  /// Stopped on 2 ranks, resumed on 1 and on 4: equal to the straight 2-rank run within the 1-vs-4 tolerance (SGD).
  func testResumeOnAnotherWorldSize() throws {
    let straight = try config(runDir: path("straight"), epochs: 4)
    XCTAssertEqual(try mmtrain(ranks: 2, ["train", "--config", try straight.write(to: path("s.yaml"))]).status, 0)
    let expected = try RunOutputs.tensors("/params", of: path("straight/latest"))
    for ranks in [1, 4] {
      let half = try config(runDir: path("half-\(ranks)"), epochs: 2)
      XCTAssertEqual(
        try mmtrain(ranks: 2, ["train", "--config", try half.write(to: path("h\(ranks).yaml"))]).status, 0)
      let resumed = try mmtrain(ranks: ranks, ["train", "--resume", path("half-\(ranks)"), "--set", "train.epochs=4"])
      XCTAssertEqual(resumed.status, 0, resumed.transcript)
      let actual = try RunOutputs.tensors("/params", of: path("half-\(ranks)/latest"))
      for (name, e) in expected {
        let a = try XCTUnwrap(actual[name])
        let diff = zip(a, e).map { abs($0 - $1) }.max()!, scale = e.map { abs($0) }.max()!
        XCTAssertLessThan(diff / max(scale, 1e-6), 1e-4, "\(name): 2 ranks -> \(ranks) ranks")
      }
    }
  }

  // MARK: - full disk

  /// A small tmpfs as RUN_DIR (needs root and mount rights, as in CI's container; skipped otherwise).
  func mountSmallDisk(_ dir: String, kilobytes: Int) throws -> Bool {
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/mount")
    p.arguments = ["-t", "tmpfs", "-o", "size=\(kilobytes)k", "tmpfs", dir]
    p.standardError = FileHandle.nullDevice
    try p.run(); p.waitUntilExit()
    if p.terminationStatus == 0 {
      addTeardownBlock {
        _ = try? Process.run(URL(fileURLWithPath: "/bin/umount"), arguments: ["-l", dir]).waitUntilExit()
      }
    }
    return p.terminationStatus == 0
  }

  /// Fills the disk holding `dir` until a write fails (ENOSPC).
  static func fill(_ dir: String) {
    let fd = open(dir + "/filler", O_WRONLY | O_CREAT, 0o644)
    guard fd >= 0 else { return }
    let block = [UInt8](repeating: 1, count: 4096)
    while write(fd, block, block.count) == block.count {}
    close(fd)
  }

  func testFullDiskIsFoundAtStartAndAFailedWriteStopsOrWarns() throws {
    let disk = path("disk")
    guard try mountSmallDisk(disk, kilobytes: 1024) else {
      throw XCTSkip("cannot mount a tmpfs here (needs root with mount rights)")
    }

    // At start: a full disk is found by the test write, before any training.
    Self.fill(disk)
    var c = try config(runDir: disk + "/run", epochs: 200)
    let atStart = try mmtrain(ranks: 2, ["train", "--config", try c.write(to: path("c.yaml"))])
    // mmtrain exits 1 on every rank; OpenMPI's mpirun itself now and then segfaults in PMIx_Finalize while it
    // tears such a job down (seen here once in ~15 runs, status 11), so only "failed" is asserted of mpirun.
    XCTAssertNotEqual(atStart.status, 0, atStart.transcript)
    XCTAssertEqual(atStart.errorLines.count, 1, atStart.transcript)
    XCTAssertTrue(atStart.stderr.contains("cannot be written: No space left on device"), atStart.transcript)
    XCTAssertTrue(atStart.stdoutLines(startingWith: "epoch ").isEmpty, atStart.transcript)
    unlink(disk + "/filler")

    // Later: the disk fills up after epoch 2; the next checkpoint fails, the previous one stays loadable.
    let stopped = try mmtrain(
      ranks: 2, ["train", "--config", try c.write(to: path("c.yaml")), "--progress", "lines"],
      action: ("epoch 2/", { _ in Self.fill(disk) }))
    XCTAssertEqual(stopped.status, 1, stopped.transcript)
    XCTAssertEqual(stopped.errorLines.count, 1, stopped.transcript)
    // The checkpoint file itself, or (rarely) the `latest` link after it, is what hits the full disk.
    XCTAssertTrue(
      stopped.stderr.contains("No space left on device; the previous checkpoint (checkpoint-e")
        && stopped.stderr.contains("is intact"), stopped.transcript)
    XCTAssertLessThan(stopped.stdoutLines(startingWith: "epoch ").count, 200, stopped.transcript)
    XCTAssertNoThrow(
      try RunOutputs.tensors("/params", of: disk + "/run/latest"), "the previous checkpoint must stay loadable")
    unlink(disk + "/filler")

    // checkpoint.on_error: warn trains on.
    c["checkpoint.dir"] = RunConfig.quoted(disk + "/warn")
    c["checkpoint.on_error"] = "warn"
    c["train.epochs"] = "30"
    let warned = try mmtrain(
      ranks: 2, ["train", "--config", try c.write(to: path("w.yaml")), "--progress", "lines"],
      action: ("epoch 2/", { _ in Self.fill(disk) }))
    XCTAssertEqual(warned.status, 0, warned.transcript)
    XCTAssertEqual(warned.stdoutLines(startingWith: "epoch ").count, 30, warned.transcript)
    XCTAssertTrue(warned.stderr.contains("training goes on (checkpoint.on_error: warn)"), warned.transcript)
  }

  // MARK: - ranks that hang, die or diverge

  func testWatchdogNamesTheRankThatDidNotArriveAndTheStep() throws {
    var c = try config(runDir: path("run"), epochs: 500)
    c["dist.timeout_s"] = "2"
    var stoppedAt = Date(), stoppedPid: pid_t = 0
    let run = try mmtrain(
      ranks: 2, ["train", "--config", try c.write(to: path("c.yaml")), "--progress", "lines"], timeout: 60,
      action: (
        "epoch 2/",
        { mpirun in
          if let pid = Harness.rankProcess(of: mpirun, rank: 1) {
            stoppedPid = pid; kill(pid, SIGSTOP); stoppedAt = Date()
          }
        }
      ))
    if stoppedPid > 0 { kill(stoppedPid, SIGKILL) }  // never leave a stopped process behind
    XCTAssertGreaterThan(stoppedPid, 0, "rank 1's process not found")
    XCTAssertNotEqual(run.status, 0, run.transcript)
    XCTAssertTrue(
      run.stderr.contains("watchdog: at step ")
        && run.stderr.contains("waited dist.timeout_s = 2 s: rank 1 did not arrive (rank 0 waiting"), run.transcript)
    XCTAssertEqual(run.errorLines.count, 1, run.transcript)
    print(
      String(
        format: "watchdog: rank 1 stopped -> job aborted in %.1f s (dist.timeout_s = 2)",
        Date().timeIntervalSince(stoppedAt)))
  }

  func testSIGKILLOfOneRankEndsTheWholeJob() throws {
    let c = try config(runDir: path("run"), epochs: 500)
    var killedAt = Date(), killed = false
    let run = try mmtrain(
      ranks: 2, ["train", "--config", try c.write(to: path("c.yaml")), "--progress", "lines"], timeout: 45,
      action: (
        "epoch 2/",
        { mpirun in
          if let pid = Harness.rankProcess(of: mpirun, rank: 1) { kill(pid, SIGKILL); killed = true; killedAt = Date() }
        }
      ))
    XCTAssertTrue(killed, "rank 1's process not found")
    XCTAssertNotEqual(run.status, 0, run.transcript)
    print(String(format: "SIGKILL of rank 1 -> mpirun exited in %.2f s", Date().timeIntervalSince(killedAt)))
  }

  func testParameterChecksumNamesTheDivergedRank() throws {
    var c = try config(runDir: path("run"), epochs: 4)
    c["dist.check_every"] = "2"
    let run = try mmtrain(
      ranks: 4, ["train", "--config", try c.write(to: path("c.yaml"))], timeout: 60,
      environment: ["MMTRAIN_INJECT_FAULT": "flip-param:2:5"])
    XCTAssertEqual(run.status, 1, run.transcript)
    XCTAssertEqual(run.errorLines.count, 1, run.transcript)
    XCTAssertTrue(
      run.stderr.contains("after step 6 the parameters of rank 2 differ from those of rank 0, 1, 3"), run.transcript)

    // The same run without the fault passes the check every step.
    c["dist.check_every"] = "1"
    let clean = try mmtrain(ranks: 4, ["train", "--config", try c.write(to: path("c.yaml"))], timeout: 60)
    XCTAssertEqual(clean.status, 0, clean.transcript)
  }

  // MARK: - Ctrl-C twice

  /// Waits (up to 2 s) until `signal` is no longer pending for `pid` (/proc/PID/status SigPnd, ShdPnd).
  static func waitUntilDelivered(_ signal: Int32, to pid: pid_t) {
    let bit = UInt64(1) << UInt64(signal - 1)
    let end = Date().addingTimeInterval(2)
    while Date() < end, let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) {
      let pending = status.split(separator: "\n").filter { $0.hasPrefix("SigPnd:") || $0.hasPrefix("ShdPnd:") }
        .compactMap { UInt64($0.split(separator: "\t").last ?? "", radix: 16) }
      if pending.allSatisfy({ $0 & bit == 0 }) { return }
      usleep(200)
    }
  }

  func testSecondInterruptExitsAtOnceWithoutACheckpoint() throws {
    var c = try config(runDir: path("run"), epochs: 500)
    c["model.hidden"] = "512"  // slow steps and a large checkpoint: the second interrupt lands before the stop ends
    c["train.batch_size"] = "64"
    let run = try mmtrain(
      ranks: 0, ["train", "--config", try c.write(to: path("c.yaml")), "--progress", "lines"], timeout: 60,
      action: (
        "epoch 1/",
        { pid in
          kill(pid, SIGINT)
          Self.waitUntilDelivered(SIGINT, to: pid)  // two pending SIGINTs would merge into one
          kill(pid, SIGINT)
        }
      ))
    XCTAssertEqual(run.status, 130, run.transcript)
    XCTAssertTrue(run.stderr.contains("second interrupt: exiting now, without a checkpoint"), run.transcript)
    let names = try FileManager.default.contentsOfDirectory(atPath: path("run"))
    XCTAssertFalse(names.contains { $0.contains("-s") }, "no mid-epoch (stop) checkpoint may be written: \(names)")
  }
}
