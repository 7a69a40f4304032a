// The preprocessing choices the data layer acts on (`data.align`, `data.normalize`, `data.missing`).
// MMConfig reads them from YAML; they live here, beside the code that implements them.

/// How sequences of different lengths are brought to `data.steps` time steps.
public enum Align: String, CaseIterable, Sendable { case interpolate, truncate, pad }
/// Per-feature normalisation of the inputs.
public enum Normalize: String, CaseIterable, Sendable { case zscore, none }
/// What to do with NaN feature values.
public enum MissingPolicy: String, CaseIterable, Sendable { case error, zero, mean }
