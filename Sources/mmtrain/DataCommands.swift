// The data-file commands: `inspect` validates a file against the contract; `synth` writes the demo's data set,
// or the data of a model-zoo reference system (`--example`).
import ArgumentParser
import Foundation
import MMCore
import MMData
import MMEval
import MMHDF5

struct Inspect: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Validate an HDF5 data file against the data contract and summarise it.")

  @Argument(help: "The HDF5 data file.")
  var file: String

  func run() throws {
    HDF5.silenceErrorStack()
    do {
      let report = try Inspection.run(path: file)
      report.lines.forEach { print($0) }
      for w in report.warnings { Console.warning("\(file): \(w)") }
      for p in report.problems { Console.error("\(file): \(p)") }
      print(report.verdict)
      if !report.isValid { throw ExitCode(ExitStatus.failure) }
    } catch let e as ExitCode {
      throw e
    } catch {
      Console.error("\(error)")  // the file breaks the contract before it can be summarised
      print("usable: no (1 problem)")
      throw ExitCode(ExitStatus.failure)
    }
  }
}

extension SynthExample: ExpressibleByArgument {}

struct Synth: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract:
      "Write a deterministic synthetic data set (the demo's): text, audio (2x rate), vision; label = an interaction of text and audio."
  )

  @Option(help: "Output HDF5 file.") var out: String
  @Option(help: "Number of samples N.") var samples: Int = SynthSpec().samples
  @Option(help: "Steps T of text and vision (audio has audio-rate x T).") var steps: Int = SynthSpec().steps
  @Option(help: "Audio steps per text step (1: every stream on the same T steps).") var audioRate: Int = SynthSpec()
    .audioRate
  @Option(
    help:
      "Give every stream of a sample one shared length, uniform in MIN...T (default: independent lengths in T/2...T).")
  var minLength: Int?
  @Option(help: "Seed.") var seed: UInt64 = SynthSpec().seed
  @Option(help: "Text features.") var textFeatures: Int = SynthSpec().textFeatures
  @Option(help: "Audio features.") var audioFeatures: Int = SynthSpec().audioFeatures
  @Option(help: "Vision features.") var visionFeatures: Int = SynthSpec().visionFeatures
  @Option(
    help: ArgumentHelp(
      "Write the data of a model-zoo reference system instead (the ModelZoo article's configs/examples):",
      discussion: SynthExample.allCases.map { "\($0.rawValue): \($0.summary)" }.joined(separator: "\n")))
  var example: SynthExample?

  func validate() throws {
    guard samples >= 2 else { throw ValidationError("--samples must be at least 2") }
    guard steps >= 2 else { throw ValidationError("--steps must be at least 2") }
    guard audioRate >= 1 else { throw ValidationError("--audio-rate must be at least 1") }
    if let minLength, !(1...steps).contains(minLength) {
      throw ValidationError("--min-length must be in 1...\(steps) (--steps)")
    }
    guard textFeatures >= 8, audioFeatures >= 8, visionFeatures >= 1 else {
      throw ValidationError("text and audio need at least 8 features (they carry the signal), vision at least 1")
    }
  }

  func run() throws {
    HDF5.silenceErrorStack()
    var spec = SynthSpec()
    spec.samples = samples; spec.steps = steps; spec.seed = seed; spec.audioRate = audioRate; spec.minLength = minLength
    spec.textFeatures = textFeatures; spec.audioFeatures = audioFeatures; spec.visionFeatures = visionFeatures
    do {
      let dir = URL(fileURLWithPath: out).deletingLastPathComponent().path
      // A directory at --out is refused before any folder is made.
      try OutputFile.check(out, option: "--out", folderMayBeMissing: true)
      try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
      if let example {
        try OutputFile.replace(out, option: "--out") { tmp in try example.write(samples: samples, seed: seed, to: tmp) }
        print("wrote \(out): \(samples) samples of example \(example.rawValue): \(example.summary)")
        return
      }
      try OutputFile.replace(out, option: "--out") { tmp in try MMData.Synth.write(spec, to: tmp) }
      print(
        "wrote \(out): \(samples) samples; text [\(steps), \(textFeatures)], audio [\(audioRate * steps), \(audioFeatures)], vision [\(steps), \(visionFeatures)]; 2 classes"
      )
    } catch {
      Console.error("\(error)")
      throw ExitCode(ExitStatus.code(for: error.mmKind))
    }
  }
}
