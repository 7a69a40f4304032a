/// What a recurrent layer needs to know about its cell; the point-wise steps live beside it
/// (LSTMCell.swift, PeepholeCell.swift, GRUCell.swift) as free functions with sizes last.
///
///     cell            gates (G)    state        extra [H] vectors             hidden projection
///     lstm            i f g o (4H) h, c         -                             added to the gates
///     lstm_peephole   i f g o (4H) h, c         weight_ci weight_cf weight_co added to the gates
///     gru             r z n (3H)   h            -                             kept apart: h·W_hnᵀ + b_hn is gated by r
extension CellKind {
  /// Gate pre-activations per hidden unit: the gate width is G = gateCount · H.
  public var gateCount: Int { self == .gru ? 3 : 4 }

  /// Names of the cell's extra [H] vectors (before the `_l{k}` suffix), in state_dict order.
  public var extraParameters: [String] { self == .lstm_peephole ? ["weight_ci", "weight_cf", "weight_co"] : [] }

  /// Whether the cell carries a memory cell c beside h.
  var hasCellState: Bool { self != .gru }

  /// GRU needs h·W_hhᵀ + b_hh apart from x·W_ihᵀ + b_ih (r gates its n slice); the LSTMs add both into one
  /// pre-activation buffer.
  var keepsHiddenProjectionApart: Bool { self == .gru }
}
