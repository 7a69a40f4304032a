import Foundation
import MMEval

/// The per-epoch curves of a run directory's metrics.jsonl (every epoch once, also across resumes).
public enum Curves {
  public static func read(_ metricsPath: String) -> [EpochPoint] {
    guard let text = try? String(contentsOfFile: metricsPath, encoding: .utf8) else { return [] }
    var byEpoch: [Int: EpochPoint] = [:]
    for line in text.split(separator: "\n") {
      guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
        let e = o["epoch"] as? Int
      else { continue }
      func d(_ k: String) -> Double? { (o[k] as? NSNumber)?.doubleValue }
      byEpoch[e] = EpochPoint(
        epoch: e, trainLoss: d("train_loss"), trainAccuracy: d("train_accuracy"), valLoss: d("val_loss"),
        valAccuracy: d("val_accuracy"))
    }
    return byEpoch.keys.sorted().map { byEpoch[$0]! }
  }
}
