import Foundation
import Logging

/// swift-log handler for a command-line tool run on many ranks: info and below go to stdout as plain
/// lines, warnings and errors to stderr as `mmtrain: error: ...`. Only the rank allowed to speak prints.
public struct ConsoleLogHandler: LogHandler {
  public var logLevel: Logger.Level = .info
  public var metadata: Logger.Metadata = [:]
  let speaks: Bool

  public init(speaks: Bool) { self.speaks = speaks }

  public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  public func log(event: LogEvent) {
    guard speaks || event.level >= .error else { return }
    if event.level >= .warning {
      let tag = event.level == .warning ? "warning" : "error"
      FileHandle.standardError.write(Data("mmtrain: \(tag): \(event.message)\n".utf8))
    } else {
      print(event.message)
      fflush(stdout)
    }
  }
}
