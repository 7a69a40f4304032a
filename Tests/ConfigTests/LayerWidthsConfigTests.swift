@testable import MMConfig
import MMModel
import XCTest

/// `model.hidden` as one width per layer (`[128, 64]`, per modality too) and `model.head_hidden` as a list of
/// widths (`[32, 16]`): what they parse to, what `model.layers` becomes, and the errors.
final class LayerWidthsConfigTests: XCTestCase {
  func model(_ lines: String, overrides: [String] = []) -> ModelConfig? {
    parseOK(minimalYAML + "model:\n" + lines, overrides: overrides)?.model
  }

  func testAListGivesEachLayerItsWidthAndSetsLayers() {
    let m = model("  hidden: [128, 64]\n")
    XCTAssertEqual(m?.hidden, .all(.perLayer([128, 64])))
    XCTAssertEqual(m?.layers, 2)
    XCTAssertEqual(model("  hidden: [128, 64]\n  layers: 2\n")?.layers, 2)
    XCTAssertEqual(model("  hidden: 32\n  layers: 3\n")?.hidden.value(for: "text")?.widths, [32])
    XCTAssertEqual(model("  hidden: 32\n", overrides: ["model.hidden=[16, 8, 4]"])?.layers, 3)
  }

  func testAPerModalityMapMayMixListsAndIntegers() {
    let m = model("  fusion: late\n  hidden: {text: [128, 64], audio: 32}\n")
    XCTAssertEqual(m?.layers, 2)
    XCTAssertEqual(m?.hidden.value(for: "text")?.widths, [128, 64])
    XCTAssertEqual(m?.hidden.value(for: "audio")?.widths, [32])
  }

  func testLayersMustAgreeWithTheList() {
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "model:\n  hidden: [128, 64]\n  layers: 3\n"),
      "configs/x.yaml: model.layers is 3, but model.hidden lists 2 widths (one per layer); make them agree, or leave "
        + "model.layers out")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "model:\n  fusion: late\n  hidden: {text: [8, 4], audio: [8, 4, 2]}\n"),
      "configs/x.yaml: model.hidden gives 3 layers to one modality and 2 to another; model.layers is shared, so give "
        + "every list the same length (an integer means the same width in every layer)")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "model:\n  hidden: []\n"),
      "configs/x.yaml: model.hidden is an empty list; give one width per layer, such as [128, 64]")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "model:\n  hidden: [64, 0]\n"),
      "configs/x.yaml: model.hidden[1] must be at least 1, got 0")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "model:\n  hidden: {text: [8, 4], audio: 2}\n"),
      "configs/x.yaml: model.hidden is a per-modality map, but model.fusion is early: early fusion concatenates the "
        + "modalities step by step into one sequence, so they share one encoder; give one integer, or use model.fusion: "
        + "late, attention, tensor or gated")
  }

  func testHeadHiddenTakesAListOfWidths() {
    XCTAssertEqual(model("  head_hidden: [32, 16]\n")?.headHidden, [32, 16])
    XCTAssertEqual(model("  head_hidden: 16\n")?.headHidden, [16])
    XCTAssertEqual(model("  head_hidden: 0\n")?.headHidden, [])
    XCTAssertEqual(model("  head_hidden: []\n")?.headHidden, [])
    XCTAssertEqual(model("  head_hidden: null\n")?.headHidden, nil)
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "model:\n  head_hidden: [32, 0]\n"),
      "configs/x.yaml: model.head_hidden[1] must be at least 1, got 0")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "model:\n  head_hidden: {a: 1}\n"),
      "configs/x.yaml: model.head_hidden must be an integer or a list of widths such as [32, 16] (0 or [] for a Linear "
        + "head), got a mapping")
  }

  func testTheListsRoundTripThroughYAML() throws {
    var c = TrainConfig.defaults
    c.data.path = "d.h5"
    c.model.fusion = .late
    c.model.hidden = .each(["text": .perLayer([128, 64]), "audio": .uniform(32)])
    c.model.layers = 2
    c.model.headHidden = [32, 16]
    XCTAssertEqual(try TrainConfig.parse(yaml: c.yaml(), source: "resolved.yaml"), c)
    c.model.headHidden = []
    XCTAssertEqual(try TrainConfig.parse(yaml: c.yaml(), source: "resolved.yaml"), c)
  }
}

/// `model.encoders`: a static vector's MLP by modality name; its errors.
final class EncodersConfigTests: XCTestCase {
  func testMLPEncodersParseAndRoundTrip() throws {
    let c = parseOK(
      minimalYAML + "model:\n  fusion: late\n  encoders: {face: {kind: mlp, widths: [32, 16]}, age: {kind: mlp}}\n")
    XCTAssertEqual(c?.model.encoders, ["face": .mlp(widths: [32, 16]), "age": .mlp(widths: [])])
    if let c { XCTAssertEqual(try TrainConfig.parse(yaml: c.yaml(), source: "resolved.yaml"), c) }
    XCTAssertEqual(TrainConfig.defaults.model.encoders, [:])
  }

  func testBadEncoders() {
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "model:\n  encoders: {face: {kind: conv3d}}\n"),
      "configs/x.yaml: model.encoders.face has kind 'conv3d'; the kinds are: mlp (a static vector's Linear + ReLU "
        + "layers), conv (an image's convolutions)")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "model:\n  encoders: {face: {kind: mlp, width: [3]}}\n"),
      "configs/x.yaml: model.encoders.face has 'width', which kind mlp does not take (it takes widths)")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "model:\n  encoders: {face: {kind: mlp, widths: [0]}}\n"),
      "configs/x.yaml: model.encoders.face.widths[0] must be at least 1, got 0")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "model:\n  encoders: [mlp]\n"),
      "configs/x.yaml: model.encoders must be a mapping of modality to encoder, such as {face: {kind: mlp, widths: [32]}}, got a list"
    )
  }

  func testEmbeddingsParseAndRoundTrip() throws {
    let c = parseOK(minimalYAML + "model:\n  fusion: late\n  embed: {text: {size: 100}, words: {freeze: false}}\n")
    XCTAssertEqual(c?.model.embed, ["text": EmbedChoice(size: 100), "words": EmbedChoice(freeze: false)])
    if let c { XCTAssertEqual(try TrainConfig.parse(yaml: c.yaml(), source: "resolved.yaml"), c) }
    XCTAssertEqual(TrainConfig.defaults.model.embed, [:])
  }

  func testBadEmbeddings() {
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "model:\n  embed: {text: {width: 100}}\n"),
      "configs/x.yaml: model.embed.text has 'width'; an embedding takes size (its width E) and freeze (true or false)")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "model:\n  embed: {text: {size: 0}}\n"),
      "configs/x.yaml: model.embed.text.size must be at least 1, got 0")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "model:\n  embed: {text: 100}\n"),
      "configs/x.yaml: model.embed.text must be a mapping such as {size: 100, freeze: false}, got '100'")
  }
}
