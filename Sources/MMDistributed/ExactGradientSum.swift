import Foundation
import MMCore
import MMTensor

/// `dist.world_invariant`: the step's gradient sum over chunks, exact, so that any world size and any order of
/// reduction gives the same bits.
///
/// Each chunk's gradient (computed whole on one rank: TrainingChunks) is converted to 64-bit fixed point at a
/// per-tensor power-of-two scale, q = round(g · 2^s), and added to this rank's integer accumulator; the
/// accumulators are all-reduced as integers (associative), bucket by bucket while the last chunk's backward runs
/// (as GradientExchange), and converted back, g = Σq · 2^-s. The rounding of each chunk's gradient depends only
/// on that chunk and s, so the result is a function of the batch alone.
///
/// The scale: s_t = b − h − (E_t + 1), with E_t the exponent of the largest |gradient| of tensor t in any chunk
/// of the previous step (one small max-reduce per step gives it, the same on every world size), h = `headroom`
/// bits of growth and b = min(51, 62 − k) for k bits of the chunks of a batch: every chunk's |q| < 2^b, the
/// sum < 2^62, and a tensor's largest value keeps b − h bits (45 up to 2^11 chunks a batch; one fewer for each
/// halving of it since the previous step).
///
/// A value past the headroom (|g| ≥ 2^(E_t + 1 + h): a gradient that jumped, as in a loss spike) is summed apart,
/// in a second accumulator at a scale 2^`spillBits` coarser (`spill`), where it keeps at least b − `spillBits`
/// bits: whether a value spills depends on the value alone, so both sums stay functions of the batch. Only a
/// tensor with a spilled value somewhere (the max-reduce tells every rank) has its spill sums all-reduced, and its
/// result is the two sums' total. A value past even that (a jump of more than 2^(h + spillBits)), or a first
/// step, where no E is known yet, makes `finish` return false: the caller computes the step again with the scales
/// of this step's maxima, which fit (the chunks are computed again to the same bits). A tensor whose gradient was
/// zero in every chunk keeps its E (a modality absent from a whole batch, say), so that its next step fits. E is
/// part of the training state (`exponents`, kept in checkpoints), so a resumed run continues with the same
/// scales. Non-finite gradients make their tensor's sums NaN (the divergence check reports them). Allocates
/// nothing per step.
public final class ExactGradientSum {
  /// Bits of growth of a tensor's largest gradient over the previous step's that its scale holds.
  /// `MMTRAIN_EXACT_HEADROOM=0` in every rank's environment makes any growth past the next power of two spill
  /// (the tests' way to exercise the spill sums on real ranks); the default is 6.
  public static let headroom =
    ProcessInfo.processInfo.environment["MMTRAIN_EXACT_HEADROOM"].flatMap { Int($0) }
    .map { min(max($0, 0), 12) } ?? 6
  /// How much coarser the spill sums are: values up to 2^(headroom + spillBits) times the previous step's
  /// largest are summed without computing the step again. W2's loss spike (a tensor's largest gradient grew from
  /// 2^-19 to 2^1 in one step, Adam without clipping) had repeated 3 of the 32 steps the benchmark times, the
  /// whole of world_invariant's cost there, before values were spilled.
  public static let spillBits = 20
  /// The exponent meaning "not known yet": the first step of a fresh run probes.
  public static let unknown: Int64 = .min
  /// 1.5 · 2^52: x + magic rounds x to an integer in the low bits (|x| < 2^51).
  static let magic = 6_755_399_441_055_744.0

  let comm: Communicator
  let grads: UnsafeMutablePointer<Float>
  let parameters: Int  // grads[0..<parameters]: tensors; then the trailing control slots (small integers)
  let total: Int
  let buckets: [Range<Int>]
  /// Per bucket: the (tensor, range of grads) pieces it holds.
  let pieces: [[(tensor: Int, range: Range<Int>)]]
  /// Bits of one chunk's |q| (< 2^fixedBits): at most 51 (the rounding trick), and at most 62 − (bits of the
  /// chunk count), so that the sum of every chunk of a batch stays below 2^62.
  let fixedBits: Int
  let accumulator: UnsafeMutablePointer<Int64>  // (total)
  /// (parameters) the sums of values past the headroom, at scale 2^(s − spillBits); zero at a step's start
  /// (pages are mapped only where a value ever spilled).
  let spill: UnsafeMutablePointer<Int64>
  private let spillBuffer: Buffer
  let tensors: [Range<Int>]
  /// (tensors) this step's bound, as float bits (`bound`): |g| below it is summed in the accumulator, past it in
  /// the spill sums (or, past their bound too, the step is computed again). Kept: `finish` needs it after the
  /// exponents have moved on.
  private var fits: [UInt32]
  /// (tensors) this rank spilled into tensor t in this step (its spill sums to zero at the next).
  private var spilled: [Bool]
  let scale: UnsafeMutablePointer<Double>  // (tensors) 2^s
  /// (tensors) |largest gradient| of any of this rank's chunks this step, as float bits; all-reduced (max).
  var largest: [Int64]
  /// (tensors) E_t: the exponents the step's scales come from (`unknown` before the first step).
  public private(set) var exponents: [Int64]
  var overflow = false
  /// Seconds inside the collectives since the last reset.
  public var waitSeconds = 0.0
  /// Steps computed again (a tensor grew past the headroom, or the first step's probe) since the last reset
  /// (metrics.jsonl `steps_repeated`).
  public var repeats = 0

  /// `tensors`: ranges of grads (the arena's tensors, in order, covering 0..<parameters); `buckets`: as
  /// GradientExchange's (covering grads and the trailing slots); `chunks`: the most chunks of one batch.
  public init(
    comm: Communicator, grads: UnsafeMutablePointer<Float>, tensors: [Range<Int>], buckets: [Range<Int>], chunks: Int
  ) {
    self.comm = comm; self.grads = grads; self.buckets = buckets; self.tensors = tensors
    parameters = tensors.last?.upperBound ?? 0
    total = buckets.map(\.upperBound).max() ?? parameters
    pieces = buckets.map { b in
      tensors.enumerated().compactMap { t, r in
        let lower = max(r.lowerBound, b.lowerBound), upper = min(r.upperBound, b.upperBound)
        return lower < upper ? (t, lower..<upper) : nil
      }
    }
    fixedBits = min(51, 62 - (Int.bitWidth - max(chunks, 1).leadingZeroBitCount))
    accumulator = .allocate(capacity: max(total, 1))
    accumulator.initialize(repeating: 0, count: max(total, 1))
    spillBuffer = Buffer(count: 2 * max(parameters, 1))
    spill = UnsafeMutableRawPointer(spillBuffer.pointer).bindMemory(to: Int64.self, capacity: max(parameters, 1))
    fits = [UInt32](repeating: 0, count: tensors.count)
    spilled = [Bool](repeating: false, count: tensors.count)
    scale = .allocate(capacity: max(tensors.count, 1))
    scale.initialize(repeating: 1, count: max(tensors.count, 1))
    largest = [Int64](repeating: 0, count: tensors.count)
    largest.reserveCapacity(tensors.count + 1)  // + the overflow flag in finish
    exponents = [Int64](repeating: ExactGradientSum.unknown, count: tensors.count)
    known = tensors.isEmpty
  }

  deinit { accumulator.deallocate(); scale.deallocate() }

  /// The buckets summed: the model's, then any the caller adds after backward (a trained embedding's table).
  public var bucketCount: Int { buckets.count }

  /// Continues with a checkpoint's exponents (empty: probe at the first step).
  public func restore(exponents saved: [Int64]) {
    if saved.count == exponents.count, !saved.contains(ExactGradientSum.unknown) { exponents = saved; known = true }
  }

  /// The exponents are known (false before a fresh run's first step: it probes).
  private(set) var known: Bool

  /// Before a step's first chunk: zero sums, the scales from `exponents`, trailing slot `mark` (the stop
  /// signal's) 1, the others 0.
  public func begin(mark: Int) {
    accumulator.update(repeating: 0, count: total)
    overflow = false
    for t in largest.indices {
      largest[t] = 0
      let e = exponents[t] == ExactGradientSum.unknown ? 0 : Int(exponents[t])
      scale[t] = Double(sign: .plus, exponent: fixedBits - ExactGradientSum.headroom - (e + 1), significand: 1)
      fits[t] = bound(t)
      if spilled[t] { (spill + tensors[t].lowerBound).update(repeating: 0, count: tensors[t].count) }
      spilled[t] = false
    }
    if parameters + mark < total { accumulator[parameters + mark] = 1 }
  }

  /// Adds bucket k of one chunk's gradient (in `grads`) to this rank's sums, at the step's scales, and zeroes
  /// it there for the next chunk's backward (which adds into it).
  ///
  /// One pass per tensor: the largest |g| (as bits: NaN and inf are the largest) and, for each value within the
  /// headroom, q = round(g · 2^s) by the 1.5 · 2^52 trick (exact for |g · 2^s| < 2^51, round half to even;
  /// vectorises, unlike a rounding call); a value past it stays in `grads` for a second pass (`spillPass`), taken
  /// only when the largest says so. A non-finite value makes its tensor NaN, so what it adds is never used.
  public func add(_ k: Int) {
    let magic = ExactGradientSum.magic, magicBits = Int64(bitPattern: magic.bitPattern), acc = accumulator
    for p in 0..<pieces[k].count {  // (indices, not the array's iterator: nothing allocates, even unoptimised)
      let (t, range) = pieces[k][p]
      var bits: UInt32 = 0
      if known {
        let s = scale[t], bound = fits[t]
        for i in range {
          let g = grads[i], a = g.bitPattern & 0x7FFF_FFFF
          bits = max(bits, a)
          let q = Int64(bitPattern: (Double(g) * s + magic).bitPattern) &- magicBits
          acc[i] &+= a < bound ? q : 0
          grads[i] = a < bound ? 0 : g
        }
        if bits >= bound { spillPass(t, range) }
      } else {
        for i in range {
          bits = max(bits, grads[i].bitPattern & 0x7FFF_FFFF)
          grads[i] = 0
        }
        overflow = true  // no scale yet: the probe's step is computed again
      }
      largest[t] = max(largest[t], Int64(bits))
    }
  }

  /// The values of `range` (of tensor t) that `add` left in `grads`, past the headroom: added to the spill sums
  /// at 2^(s − spillBits), or, past that too, the step is computed again. Zeroes them.
  private func spillPass(_ t: Int, _ range: Range<Int>) {
    let magic = ExactGradientSum.magic, magicBits = Int64(bitPattern: magic.bitPattern)
    let s = scale[t] * Double(sign: .plus, exponent: -ExactGradientSum.spillBits, significand: 1)
    let bound = bound(t, coarser: ExactGradientSum.spillBits)
    spilled[t] = true
    for i in range where grads[i] != 0 {
      let g = grads[i], a = g.bitPattern & 0x7FFF_FFFF
      if a < bound {
        spill[i] &+= Int64(bitPattern: (Double(g) * s + magic).bitPattern) &- magicBits
      } else if a < 0x7F80_0000 {
        overflow = true
      }
      grads[i] = 0
    }
  }

  /// Starts the integer sum of bucket k over ranks (after the last chunk's `add(k)`).
  public func start(_ k: Int) {
    guard GradientExchange.bucketed else { return }
    let t = MonotonicClock.now()
    comm.startAllreduceSum(accumulator + buckets[k].lowerBound, count: buckets[k].count)
    comm.progress()
    waitSeconds += MonotonicClock.now() - t
  }

  /// Waits for the sums and agrees on the step's maxima. True: `grads` (and the trailing slots) hold the exact
  /// sums over every chunk of the batch. False: some tensor outgrew its scale (or it was the first step): the
  /// exponents are now this step's, and the caller must compute the step's chunks again.
  public func finish() -> Bool {
    let t = MonotonicClock.now()
    defer { waitSeconds += MonotonicClock.now() - t }
    if !GradientExchange.bucketed { comm.startAllreduceSum(accumulator, count: total) }
    comm.waitAll()
    largest.append(overflow ? 1 : 0)
    comm.allreduceMax(&largest)
    let redo = largest.removeLast() != 0
    if !redo {  // the tensors with a value past the headroom in some chunk: their spill sums over ranks
      var spilling = false
      for t in largest.indices where ExactGradientSum.spilled(largest[t], fits[t]) {
        comm.startAllreduceSum(spill + tensors[t].lowerBound, count: tensors[t].count)
        spilled[t] = true  // this rank's spill sums of t now hold the total: zeroed at the next step
        spilling = true
      }
      if spilling { comm.waitAll() }
    }
    for i in largest.indices where largest[i] != 0 || exponents[i] == ExactGradientSum.unknown {
      exponents[i] = Int64(ExactGradientSum.exponent(ofBits: UInt32(largest[i])))
    }
    known = true
    if redo {
      repeats += 1
      return false
    }
    for b in 0..<pieces.count {
      for p in 0..<pieces[b].count {
        let (t, range) = pieces[b][p]
        if largest[t] >= 0x7F80_0000 {  // a non-finite gradient in some chunk
          for i in range { grads[i] = .nan }
          continue
        }
        let inverse = 1 / scale[t]
        if ExactGradientSum.spilled(largest[t], fits[t]) {
          let coarse = inverse * Double(sign: .plus, exponent: ExactGradientSum.spillBits, significand: 1)
          for i in range { grads[i] = Float(Double(accumulator[i]) * inverse + Double(spill[i]) * coarse) }
        } else {
          for i in range { grads[i] = Float(Double(accumulator[i]) * inverse) }
        }
      }
    }
    for i in parameters..<total { grads[i] = Float(accumulator[i]) }
    return true
  }

  /// Some chunk of the step had a finite value of the tensor past its headroom (largest: the all-reduced bits).
  @inline(__always) static func spilled(_ largest: Int64, _ fits: UInt32) -> Bool {
    largest >= Int64(fits) && largest < 0x7F80_0000
  }

  /// The float bits of the step's bound on |g| of tensor t at a scale 2^`coarser` coarser than s: 2^(E + 1 + h +
  /// coarser), below which |g · 2^(s − coarser)| < 2^b.
  private func bound(_ t: Int, coarser: Int = 0) -> UInt32 {
    let e = exponents[t] == ExactGradientSum.unknown ? 0 : Int(exponents[t])
    return ExactGradientSum.bits(ofPowerOfTwo: e + 1 + ExactGradientSum.headroom + coarser)
  }

  /// The float bits of 2^p, clamped to the finite range (2^-126 ... inf).
  static func bits(ofPowerOfTwo p: Int) -> UInt32 { UInt32(min(max(p + 127, 1), 255)) << 23 }

  /// The exponent E of a non-negative float's bits (|g| < 2^(E+1)); zero and subnormals give −127, non-finite 128.
  @inline(__always) static func exponent(ofBits bits: UInt32) -> Int { Int(bits >> 23) - 127 }
}
