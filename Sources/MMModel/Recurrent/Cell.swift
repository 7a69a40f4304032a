/// A recurrent cell: what a layer needs to size its caches and name its tensors, and the cell's share of
/// each time step. UnidirectionalLayer owns the input projection, the time loop, the packing and the
/// weight-gradient GEMMs; it calls the cell once per step (one dispatch per step, never per element).
/// The point-wise kernels live beside each cell (LSTMCell.swift, PeepholeCell.swift, GRUCell.swift) as free
/// functions with sizes last.
///
///     cell            gates (G)    state        extra [H] vectors             hidden projection
///     lstm            i f g o (4H) h, c         -                             added to the gates
///     lstm_peephole   i f g o (4H) h, c         weight_ci weight_cf weight_co added to the gates
///     gru             r z n (3H)   h            -                             kept apart: h·W_hnᵀ + b_hn is gated by r
///
/// Every requirement is stated by every cell (no defaults), so a new cell cannot inherit another's behaviour.
protocol RecurrentCell: Sendable {
  /// `model.cell`'s value: "lstm_peephole".
  var name: String { get }
  /// The encoder's submodule holding the stack's tensors, as the PyTorch module names it: "lstm", "gru".
  var module: String { get }
  /// For the console summary: "peephole LSTM".
  var displayName: String { get }
  /// Gate pre-activations per hidden unit: the gate width is G = gateCount · H.
  var gateCount: Int { get }
  /// Names of the cell's extra [H] vectors (before the `_l{k}` suffix), in state_dict order.
  var extraParameters: [String] { get }
  /// Whether the cell carries a memory cell c beside h (the layer keeps c_t, tanh(c_t) and dc).
  var hasCellState: Bool { get }
  /// Whether h·W_hhᵀ + b_hh stays apart from x·W_ihᵀ + b_ih (the layer keeps it in `hg`; GRU: r gates its n
  /// slice) instead of being added into one pre-activation buffer (the LSTMs).
  var keepsHiddenProjectionApart: Bool { get }

  /// Step t forward: from the input projection in `rows.gates` (plus b_ih, and b_hh unless kept apart) to
  /// h_t (and c_t), caching what `backward` needs.
  func forward(_ layer: UnidirectionalLayer, _ rows: StepRows)
  /// Step t backward: from dOut (the step's output gradient) and the layer's dh (and dc) from step t+1 to the
  /// gradient of the pre-activations over `rows.gates` (and of hg), dh (and dc) for step t-1, and the column
  /// sums of the hidden projection's gradient when it is kept apart.
  func backward(_ layer: UnidirectionalLayer, _ rows: StepRows, dOut: UnsafePointer<Float>)
  /// After the time loop: the gradients of the extra vectors, if any.
  func accumulateExtraGradients(_ layer: UnidirectionalLayer, steps T: Int)
}

/// `model.cell`: which recurrent cell the encoders stack. Owned by MMModel (MMConfig imports it).
public struct CellKind: RegisteredKind {
  let cell: any RecurrentCell
  init(_ cell: any RecurrentCell) { self.cell = cell }
  public var rawValue: String { cell.name }

  /// The registry: every cell `model.cell` accepts, in the order the docs list them.
  public static let allCases: [CellKind] = [.lstm, .lstm_peephole, .gru]

  /// Gate pre-activations per hidden unit: the gate width is G = gateCount · H.
  public var gateCount: Int { cell.gateCount }
  /// Names of the cell's extra [H] vectors (before the `_l{k}` suffix), in state_dict order.
  public var extraParameters: [String] { cell.extraParameters }
  /// "lstm" or "gru": the encoder's submodule with the stack's tensors ("encoders.text.gru.weight_ih_l0").
  public var module: String { cell.module }
  /// "peephole LSTM".
  public var displayName: String { cell.displayName }
}
