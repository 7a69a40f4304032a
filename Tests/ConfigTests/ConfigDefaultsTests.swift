import MMConfig
import MMCore
import MMData
import MMModel
import MMOptim
import XCTest

final class ConfigDefaultsTests: XCTestCase {
  func testMinimalConfigFillsEveryDefault() throws {
    let config = try XCTUnwrap(parseOK(minimalYAML))
    var expected = TrainConfig.defaults
    expected.data.path = "data.h5"
    XCTAssertEqual(config, expected)
  }

  func testDocumentedDefaults() {
    let d = TrainConfig.defaults
    XCTAssertEqual(d.data.path, "")
    XCTAssertEqual(d.data.modalities, [])
    XCTAssertEqual(d.data.steps, 20)
    XCTAssertEqual(d.data.align, .interpolate)
    XCTAssertEqual(d.data.normalize, .zscore)
    XCTAssertEqual(d.data.missing, .error)
    XCTAssertEqual(d.data.validationFraction, 0.2)
    XCTAssertEqual(d.model.fusion, .early)
    XCTAssertEqual(d.model.hidden, 64)
    XCTAssertEqual(d.model.layers, 1)
    XCTAssertEqual(d.task.kind, .multiclass)
    XCTAssertNil(d.task.classes)
    XCTAssertEqual(d.train.epochs, 10)
    XCTAssertEqual(d.train.batchSize, 64)
    XCTAssertEqual(d.train.optimizer, .adam)
    XCTAssertEqual(d.train.lr, 0.001)
    XCTAssertEqual(d.train.momentum, 0.9)
    XCTAssertEqual(d.train.weightDecay, 0)
    XCTAssertEqual(d.train.beta1, 0.9)
    XCTAssertEqual(d.train.beta2, 0.999)
    XCTAssertEqual(d.train.eps, 1e-8)
    XCTAssertEqual(d.train.seed, 42)
    XCTAssertEqual(d.train.blasThreads, 1)
    XCTAssertEqual(d.checkpoint.dir, "runs/default")
    XCTAssertEqual(d.checkpoint.everyEpochs, 1)
    XCTAssertEqual(d.checkpoint.keep, 3)
  }

  func testEmptySectionsAndNullSectionsTakeDefaults() throws {
    let config = try XCTUnwrap(parseOK(minimalYAML + "model:\ntrain: {}\ncheckpoint: ~\n"))
    XCTAssertEqual(config.model, TrainConfig.defaults.model)
    XCTAssertEqual(config.train, TrainConfig.defaults.train)
  }

  func testEveryEnumValueParses() throws {
    for value in Align.allCases {
      XCTAssertEqual(parseOK(minimalYAML + "  align: \(value.rawValue)\n")?.data.align, value)
    }
    for value in Normalize.allCases {
      XCTAssertEqual(parseOK(minimalYAML + "  normalize: \(value.rawValue)\n")?.data.normalize, value)
    }
    for value in MissingPolicy.allCases {
      XCTAssertEqual(parseOK(minimalYAML + "  missing: \(value.rawValue)\n")?.data.missing, value)
    }
    for value in FusionKind.allCases {
      XCTAssertEqual(parseOK(minimalYAML + "model:\n  fusion: \(value.rawValue)\n")?.model.fusion, value)
    }
    for value in TaskKind.allCases {
      XCTAssertEqual(parseOK(minimalYAML + "task:\n  kind: \(value.rawValue)\n")?.task.kind, value)
    }
    for value in OptimizerKind.allCases {
      XCTAssertEqual(parseOK(minimalYAML + "train:\n  optimizer: \(value.rawValue)\n")?.train.optimizer, value)
    }
  }

  func testEnumValuesIgnoreCase() {
    XCTAssertEqual(parseOK(minimalYAML + "train:\n  optimizer: Adam\n")?.train.optimizer, .adam)
    XCTAssertEqual(parseOK(minimalYAML + "  normalize: NONE\n")?.data.normalize, Normalize.none)
  }

  func testEveryKeyParsesIntoItsField() throws {
    let yaml = """
      data:
        path: /data/set.h5
        modalities: [vision, text]
        steps: 50
        align: pad
        normalize: none
        missing: mean
        validation_fraction: 0
      model: {fusion: early, hidden: 128, layers: 2}
      task: {kind: regression, classes: 3}
      train:
        epochs: 3
        batch_size: 16
        optimizer: sgd
        lr: 1e-2
        momentum: 0.5
        weight_decay: 1.0e-4
        beta1: 0.8
        beta2: 0.99
        eps: 1e-6
        seed: 18446744073709551615
        blas_threads: 4
      checkpoint: {dir: out/run 1, every_epochs: 5, keep: 1}
      """
    var expected = TrainConfig.defaults
    expected.data.path = "/data/set.h5"
    expected.data.modalities = ["vision", "text"]  // kept in the order given
    expected.data.steps = 50
    expected.data.align = .pad
    expected.data.normalize = .none
    expected.data.missing = .mean
    expected.data.validationFraction = 0
    expected.model.hidden = 128
    expected.model.layers = 2
    expected.task.kind = .regression
    expected.task.classes = 3
    expected.train.epochs = 3
    expected.train.batchSize = 16
    expected.train.optimizer = .sgd
    expected.train.lr = 0.01
    expected.train.momentum = 0.5
    expected.train.weightDecay = 1e-4
    expected.train.beta1 = 0.8
    expected.train.beta2 = 0.99
    expected.train.eps = 1e-6
    expected.train.seed = UInt64.max
    expected.train.blasThreads = 4
    expected.checkpoint.dir = "out/run 1"
    expected.checkpoint.everyEpochs = 5
    expected.checkpoint.keep = 1
    // Decimal text parses to the correctly rounded Double, the same one the literal gives: exact equality.
    XCTAssertEqual(parseOK(yaml), expected)
  }

  func testIntegersWrittenAsWholeFloatsAndFloatsWrittenAsIntegers() throws {
    let c = try XCTUnwrap(parseOK(minimalYAML + "train:\n  epochs: 3.0\n  lr: 1\n  seed: 7.0\n"))
    XCTAssertEqual(c.train.epochs, 3)
    XCTAssertEqual(c.train.lr, 1.0)
    XCTAssertEqual(c.train.seed, 7)
  }

  func testClassesInferredWhenOmittedOrNull() {
    XCTAssertNil(parseOK(minimalYAML + "task:\n  classes: null\n")?.task.classes)
    XCTAssertNil(parseOK(minimalYAML + "task:\n  classes:\n")?.task.classes)
    XCTAssertEqual(parseOK(minimalYAML + "task:\n  kind: binary\n  classes: 2\n")?.task.classes, 2)
    XCTAssertEqual(parseOK(minimalYAML + "task:\n  kind: multiclass\n  classes: 5\n")?.task.classes, 5)
  }
}
