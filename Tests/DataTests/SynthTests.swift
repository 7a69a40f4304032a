import MMData
import MMHDF5
import TestSupport
import XCTest

/// `mmtrain synth`'s benchmark options: every stream on one grid (`--audio-rate 1`) and one shared length per
/// sample, uniform in minLength...T (`--min-length`); the default layout is unchanged.
final class SynthTests: XCTestCase {
  func testAudioRateAndSharedLengths() throws {
    let dir = makeTemporaryDirectory("synth")
    defer { try? FileManager.default.removeItem(at: dir) }
    var spec = SynthSpec()
    spec.samples = 400; spec.steps = 10; spec.textFeatures = 8; spec.audioFeatures = 8; spec.visionFeatures = 2
    spec.audioRate = 1; spec.minLength = 3
    let path = dir.appendingPathComponent("s.h5").path
    try Synth.write(spec, to: path)
    let f = try HDF5File(path: path)
    defer { f.close() }
    XCTAssertEqual(try f.datasetInfo("/modalities/audio").shape, [400, 10, 8], "audio on the text grid")
    let text = try f.readInt64s("/lengths/text"), audio = try f.readInt64s("/lengths/audio"),
      vision = try f.readInt64s("/lengths/vision")
    XCTAssertEqual(text, audio, "one length shared by the streams")
    XCTAssertTrue(zip(text, vision).allSatisfy { $1 == 0 || $1 == $0 }, "vision: the same length, or absent")
    XCTAssertEqual(Set(text), Set((3...10).map { Int64($0) }), "uniform in 3...10: every length occurs")

    spec = SynthSpec()
    spec.samples = 50; spec.steps = 10; spec.textFeatures = 8; spec.audioFeatures = 8; spec.visionFeatures = 2
    let defaultPath = dir.appendingPathComponent("d.h5").path
    try Synth.write(spec, to: defaultPath)
    let d = try HDF5File(path: defaultPath)
    defer { d.close() }
    XCTAssertEqual(
      try d.datasetInfo("/modalities/audio").shape, [50, 20, 8], "the default keeps audio at twice the rate")
    XCTAssertTrue(try d.readInt64s("/lengths/text").allSatisfy { (5...10).contains($0) })
  }
}
