@testable import MMConfig
import TestSupport
import XCTest

final class ConfigRoundTripTests: XCTestCase {
  func testYAMLRoundTripOfDefaults() throws {
    var config = TrainConfig.defaults
    config.data.path = "runs/demo/demo.h5"
    XCTAssertEqual(try TrainConfig.parse(yaml: config.yaml(), source: "resolved.yaml"), config)
  }

  func testYAMLRoundTripOfEveryFieldChanged() throws {
    var c = TrainConfig.defaults
    c.data.path = "data: #1.h5"  // needs quoting
    c.data.modalities = ["text", "null", "a,b", "3"]  // each would read back as something else unquoted
    c.data.steps = 7
    c.data.align = .truncate
    c.data.normalize = .none
    c.data.missing = .zero
    c.data.validationFraction = 0.1 + 0.2  // 0.30000000000000004: shortest text must still be exact
    c.model.hidden = 3
    c.model.layers = 4
    c.task.kind = .binary
    c.task.classes = 2
    c.train.epochs = 1
    c.train.batchSize = 2
    c.train.optimizer = .sgd
    c.train.lr = 1e-20
    c.train.momentum = 0.5
    c.train.weightDecay = 5e-4
    c.train.beta1 = 0.5
    c.train.beta2 = 0.25
    c.train.eps = 1e-12
    c.train.seed = UInt64.max
    c.train.blasThreads = 8
    c.task.classWeights = .list([1, 2.5])
    c.train.nesterov = true
    c.train.l1 = 1e-5
    c.train.alpha = 0.9
    c.train.schedule = .cosine
    c.train.warmupSteps = 7
    c.train.gamma = 0.5
    c.train.stepEpochs = 3
    c.train.lrMin = 1e-6
    c.train.clipNorm = 2.5
    c.train.earlyStopping = EarlyStopping(metric: .valF1, patience: 4, minDelta: 1e-3)
    c.checkpoint.dir = "yes"
    c.checkpoint.everyEpochs = 2
    c.checkpoint.keep = 9
    c.checkpoint.everySteps = 5
    c.checkpoint.onError = .warn
    c.dist.timeoutSeconds = 30.5
    c.dist.checkEvery = 10
    XCTAssertEqual(try TrainConfig.parse(yaml: c.yaml(), source: "resolved.yaml"), c, c.yaml())
  }

  func testYAMLListsEveryKeyInSectionOrder() {
    let yaml = TrainConfig.defaults.yaml()
    let sections = yaml.split(separator: "\n").filter { !$0.hasPrefix(" ") }
    XCTAssertEqual(sections, ["data:", "model:", "task:", "train:", "checkpoint:", "cv:", "report:", "dist:"])
    XCTAssertTrue(yaml.contains("  eps: 1.0e-08\n"), yaml)  // YAML 1.1 readers need the '.0' to see a float
    XCTAssertTrue(yaml.contains("  classes: null\n"), yaml)
    XCTAssertEqual(yaml.split(separator: "\n").count, ConfigSchema.sections.count + ConfigSchema.keys.count)
  }

  func testDemoConfigParses() throws {
    let path = packageRoot().appendingPathComponent("configs/demo.yaml").path
    let demo = try TrainConfig.load(path: path)
    var expected = TrainConfig.defaults
    expected.data.path = "runs/demo/demo.h5"
    expected.model.hidden = 32
    expected.task.classes = 2
    expected.train.epochs = 8
    expected.train.lr = 0.003
    expected.checkpoint.dir = "runs/demo"
    expected.cv.strategy = .stratified
    XCTAssertEqual(demo, expected)
  }

  func testDemoConfigWritesEveryKey() throws {
    let path = packageRoot().appendingPathComponent("configs/demo.yaml").path
    let text = try String(contentsOfFile: path, encoding: .utf8)
    for line in TrainConfig.defaults.yaml().split(separator: "\n") {
      let key = line.split(separator: ":")[0]
      XCTAssertTrue(text.contains("\n\(key):"), "configs/demo.yaml lacks '\(key)'")
    }
  }

  func testReferenceDocsListEveryKeyWithItsDefault() {
    let docs = TrainConfig.referenceMarkdown()
    XCTAssertTrue(docs.contains("| `data.path` | string | required |"), docs)
    XCTAssertTrue(docs.contains("| `train.lr` | float > 0 | `0.001` |"), docs)
    XCTAssertTrue(docs.contains("| `data.align` | interpolate \\| truncate \\| pad | `interpolate` |"), docs)
    XCTAssertEqual(docs.components(separatedBy: "\n| `").count - 1, ConfigSchema.keys.count)
  }
}

final class ReadmeReferenceTests: XCTestCase {
  /// README's configuration reference is generated from the schema, and it is there once: a new key without
  /// docs fails here, and so does a table pasted twice (into README again, or into an article of the DocC
  /// catalog, where a copy would go stale).
  func testReadmeHoldsTheGeneratedReferenceOnce() throws {
    let readme = try String(contentsOf: packageRoot().appendingPathComponent("README.md"), encoding: .utf8)
    let reference = TrainConfig.referenceMarkdown()
    let regenerate =
      "replace README.md's tables (from '### `data`' to the next '## ' heading) with the output of `mmtrain config --reference`"
    XCTAssertEqual(
      occurrences(of: reference, in: readme), 1,
      "README.md must hold the configuration reference exactly once: \(regenerate)")

    let articles = try documentationArticles()
    XCTAssertFalse(articles.isEmpty, "no .md files found under Sources/ (the DocC catalog)")
    // Each section heading and each key's row: once in README, never in an article.
    let headings = ConfigSchema.sections.map { "### `\($0.name)`\n" }
    let rows = reference.split(separator: "\n").map(String.init).filter { $0.hasPrefix("| `") }
    XCTAssertEqual(rows.count, ConfigSchema.keys.count)
    for line in headings + rows {
      let text = line.hasSuffix("\n") ? line : line + "\n"
      XCTAssertEqual(
        occurrences(of: "\n" + text, in: "\n" + readme), 1,
        "README.md must hold '\(line.trimmingCharacters(in: .newlines))' exactly once: \(regenerate)")
      for (path, article) in articles where article.contains(line.trimmingCharacters(in: .newlines)) {
        XCTFail(
          "\(path) repeats README's configuration reference ('\(line.trimmingCharacters(in: .newlines))'); link to README's instead"
        )
      }
    }
  }

  /// Every Markdown file under Sources/ (the DocC catalog's articles), by path relative to the package root.
  private func documentationArticles() throws -> [(String, String)] {
    let root = packageRoot()
    let sources = root.appendingPathComponent("Sources")
    guard let walk = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil) else { return [] }
    var articles: [(String, String)] = []
    for case let url as URL in walk where url.pathExtension == "md" {
      articles.append((String(url.path.dropFirst(root.path.count + 1)), try String(contentsOf: url, encoding: .utf8)))
    }
    return articles
  }

  private func occurrences(of needle: String, in haystack: String) -> Int {
    haystack.components(separatedBy: needle).count - 1
  }
}

final class ExampleConfigTests: XCTestCase {
  /// Every config under configs/ is valid as shipped.
  func testEveryExampleConfigParses() throws {
    let folder = packageRoot().appendingPathComponent("configs")
    let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".yaml") }
    XCTAssertGreaterThanOrEqual(files.count, 4, "demo plus one per fusion")
    for file in files {
      XCTAssertNoThrow(try TrainConfig.load(path: folder.appendingPathComponent(file).path), file)
    }
  }
}
