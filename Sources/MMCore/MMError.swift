import Foundation

/// The one error type of mmtrain: a message of one line that names the file, the key or the dataset and the
/// fix, and a kind that decides the exit status. Every room throws it; the command line maps the kind to the
/// exit code (`ExitStatus`), whichever rank or phase found the problem.
public struct MMError: Error, CustomStringConvertible, Equatable, Sendable {
  public enum Kind: Sendable, Comparable {
    /// data, checkpoint or runtime failure (exit 1)
    case runtime
    /// a config or usage mistake (exit 64, EX_USAGE)
    case usage
    /// stopped by a signal with a checkpoint written: resumable (exit 75, EX_TEMPFAIL)
    case stopped
    /// a second SIGINT: exited at once, no checkpoint (exit 130)
    case interrupted
  }

  public let kind: Kind
  public let message: String
  /// Once every rank has agreed on a failure (Communicator.agree): the rank that saw it first. Only that rank
  /// prints the message; every rank exits with the same code.
  public var seenBy: Int? = nil
  public var printsHere = true

  public init(_ message: String, kind: Kind = .runtime) {
    self.kind = kind
    self.message = message
  }

  /// A config or usage mistake.
  public static func usage(_ message: String) -> MMError { MMError(message, kind: .usage) }

  public var description: String { message }
  public var exitCode: Int32 { ExitStatus.code(for: kind) }
}

/// mmtrain's exit codes, in one place.
///
/// | code | meaning |
/// |---|---|
/// | 0 | done |
/// | 1 | data, checkpoint or runtime error |
/// | 64 | config or usage error (EX_USAGE, as swift-argument-parser) |
/// | 75 | stopped by a signal, checkpoint written: resumable (EX_TEMPFAIL) |
/// | 130 | a second SIGINT: exited at once, without a checkpoint |
public enum ExitStatus {
  public static let success: Int32 = 0
  public static let failure: Int32 = 1
  public static let usage: Int32 = 64
  public static let stopped: Int32 = 75
  public static let interrupted: Int32 = 130

  public static func code(for kind: MMError.Kind) -> Int32 {
    switch kind {
    case .runtime: return failure
    case .usage: return usage
    case .stopped: return stopped
    case .interrupted: return interrupted
    }
  }
}

extension Error {
  /// The kind of an error on its way to the exit code: an MMError's own, a usage mistake for anything else
  /// the argument parser raised, a runtime failure otherwise.
  public var mmKind: MMError.Kind { (self as? MMError)?.kind ?? .runtime }
}

extension MMError: LocalizedError {
  /// So `error.localizedDescription` prints the message rather than Foundation's generic text.
  public var errorDescription: String? { message }
}
