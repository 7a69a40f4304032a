// The "did you mean" hint for unknown keys: the closest valid key by edit distance, looking first in the
// section the key was written in, then at every full key path (so a top-level `lr` suggests 'train.lr').

enum KeySuggestion {
  /// Closest valid spelling for `name` written inside `section`, or at the top level when `section` is nil.
  /// Returns a full key path ("train.lr") or, at the top level, possibly a section name ("train").
  /// `includeSections: false` where only a key can be meant (a --set without a dot).
  static func closest(to name: String, inSection section: String?, includeSections: Bool = true) -> String? {
    var candidates: [Candidate] = []
    if section == nil, includeSections {
      candidates += ConfigSchema.sectionNames.map { Candidate(suggestion: $0, spellings: [$0], sameScope: true) }
    }
    candidates += ConfigSchema.keys.map { key in
      Candidate(
        suggestion: key.path, spellings: [key.name] + key.aliases, sameScope: key.section == section)
    }
    return best(for: name, among: candidates)
  }

  /// Closest full key path to a dotted path whose section is unknown, as typed after --set ("trian.lr").
  static func closest(toPath path: String) -> String? {
    let candidates = ConfigSchema.keys.map { key in
      Candidate(
        suggestion: key.path, spellings: ([key.name] + key.aliases).map { "\(key.section).\($0)" },
        sameScope: true)
    }
    return best(for: path, among: candidates)
  }

  private struct Candidate {
    let suggestion: String
    /// The key's own name and its aliases; the typed name is compared with each.
    let spellings: [String]
    /// In the section where the unknown key was written; wins ties against other sections.
    let sameScope: Bool
  }

  /// Nearest candidate, or nil when even the nearest is more than max(2, len/2) edits away.
  private static func best(for typed: String, among candidates: [Candidate]) -> String? {
    let typed = normalized(typed)
    var best: (distance: Int, otherScope: Int, suggestion: String)?
    for candidate in candidates {
      let distance = candidate.spellings.map { editDistance(typed, normalized($0)) }.min() ?? .max
      let score = (distance, candidate.sameScope ? 0 : 1, candidate.suggestion)
      if best == nil || (score.0, score.1) < (best!.distance, best!.otherScope) { best = score }
    }
    guard let best, best.distance <= max(2, typed.count / 2) else { return nil }
    return best.suggestion
  }

  /// Case and '-' versus '_' are not worth an edit: "Batch-Size" is batch_size.
  private static func normalized(_ name: String) -> String {
    String(name.lowercased().map { $0 == "-" ? "_" : $0 })
  }
}
