// The architecture choices of `model:` (cell, pooling, fusion). MMConfig reads them from YAML; they live
// here, beside the layers that implement them.

/// How an encoder turns its output sequence (T, B, H) into one vector per sample (`model.pooling`).
public enum PoolingKind: String, CaseIterable, Sendable { case last, mean, max, attention }

/// How the modalities are combined (`model.fusion`):
///   early      concatenate the features per step, one encoder over all of them
///   late       one encoder per modality, pooled vectors concatenated, MLP head
///   attention  per-modality encoders, projected tokens, one-head self-attention over modalities, mean
///   tensor     per-modality encoders, projected vectors with a 1 appended, outer product (TFN), MLP head
public enum FusionKind: String, CaseIterable, Sendable { case early, late, attention, tensor }
