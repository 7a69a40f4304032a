import MMCore
import MMData
import MMDistributed
import MMEval
import MMModel
import MMOptim
// Every configuration key, in one table: YAML path, field, default, allowed values, and help text.
// The parser, TrainConfig.defaults, TrainConfig.yaml() and the reference docs are all generated from it.
enum ConfigSchema {
  /// Top-level sections in file order, with the sentence that introduces each in the docs.
  static let sections: [(name: String, help: String)] = [
    ("data", "Which HDF5 file and modalities to read, and how sequences are shaped before the model sees them."),
    ("model", "The recurrent network."),
    ("task", "What is predicted; picks the output head and the loss."),
    ("train", "Optimisation."),
    ("checkpoint", "Where and how often checkpoints are written."),
    ("cv", "k-fold cross-validation (`mmtrain cv`); scikit-learn's fold semantics."),
    ("report", "What RUN_DIR/report/ holds (`mmtrain cv`, `train`, `evaluate`)."),
    ("dist", "How the ranks talk to and watch each other (the gradient all-reduce; faults on a shared cluster)."),
  ]

  static let keys: [ConfigKey] = [
    // MARK: data
    .string(
      "data.path", \.data.path, requiredWhat: "the HDF5 data file",
      help: "HDF5 file holding the modalities and labels.",
      aliases: ["file", "h5", "hdf5", "data_path", "dataset", "filename"]),
    .stringList(
      "data.modalities", \.data.modalities, default: [],
      help: "Modalities to use, e.g. `[text, audio]`. `[]` = every modality in the file, sorted by name.",
      aliases: ["modality", "inputs", "features", "streams"]),
    .perModality(
      "data.steps", \.data.steps, default: 20, min: 1,
      help:
        "Time steps per sequence fed to the encoder (see `align`). A map such as `{text: 50, audio: 100}` gives each "
        + "modality its own time axis (every fusion but early).",
      aliases: ["seq_len", "sequence_length", "timesteps", "length", "max_len"]),
    .choice(
      "data.align", \.data.align, default: Align.interpolate,
      help: "How each sequence is brought to `steps` time steps: resample by interpolation, truncate, or pad.",
      aliases: ["alignment", "resample", "resampling"]),
    .choice(
      "data.normalize", \.data.normalize, default: Normalize.zscore,
      help: "Per-feature z-score standardisation; `none` feeds the raw values.",
      aliases: ["normalise", "normalization", "normalisation", "norm", "scale"]),
    .choice(
      "data.missing", \.data.missing, default: MissingPolicy.error,
      help: "Missing (NaN) feature values: stop with an error, replace with 0, or replace with the feature mean.",
      aliases: ["nan", "nans", "missing_values", "impute", "fill", "fillna"]),
    .float(
      "data.validation_fraction", \.data.validationFraction, default: 0.2, .unitInterval,
      help: "Share of the samples held out for validation (0 = train on everything).",
      aliases: ["val_fraction", "validation_split", "val_split", "valid_fraction", "holdout"]),
    .choice(
      "data.split", \.data.split, default: SplitKind.random,
      help: "How the validation rows are drawn: single rows at random, whole `/groups` (no subject in both train and "
        + "validation, as scikit-learn's GroupShuffleSplit), or keeping class shares (StratifiedShuffleSplit). In cv "
        + "the inner split follows cv.strategy (group strategies hold out whole groups, stratified ones keep shares).",
      aliases: ["split_strategy", "validation_split_strategy", "holdout_strategy"]),
    .bool(
      "data.stream", \.data.stream, default: false,
      help: "Keep the shard in the file: a reader thread prepares each step's rows ahead of it in a buffer of "
        + "`stream_buffer_mb`, so memory stays bounded whatever the file's size; the results are identical. Use it for "
        + "data that does not fit in memory (on a compressed file, random rows decompress whole chunks: slower).",
      aliases: ["streaming", "out_of_core", "lazy"]),
    .int(
      "data.stream_buffer_mb", \.data.streamBufferMB, default: 512, min: 1,
      help: "With `stream: true`: MiB of prepared rows a rank holds ahead of training (at least two steps' rows).",
      aliases: ["buffer_mb", "stream_buffer", "prefetch_mb", "buffer_size"]),
    .bool(
      "data.mmap", \.data.mmap, default: true,
      help: "Read the rows of modalities stored uncompressed (float32, contiguous or in chunks of whole rows) in place "
        + "from the file's pages instead of copying them into memory: no copy at start-up, and ranks of a node share "
        + "the pages; the results are identical. The file must not be rewritten while a run reads it: a changed file "
        + "stops the run with an error (write a new file and rename it over the old one). Used when every modality is "
        + "so stored; otherwise, or with `false`, the rows are copied into memory.",
      aliases: ["memory_map", "mmap_mode", "map_file", "in_place", "memmap"]),

    // MARK: model
    .choice(
      "model.fusion", \.model.fusion, default: FusionKind.early,
      help: "How modalities are combined: `early` concatenates their features at every step (one encoder); `late` "
        + "concatenates per-modality encoders' pooled vectors; `attention` runs self-attention over per-modality "
        + "tokens; `tensor` takes the outer product of per-modality vectors (Tensor Fusion Network); `gated` sums "
        + "per-modality projections, each scaled by a sigmoid gate computed from all pooled vectors (gated multimodal unit).",
      aliases: ["fuse", "fusion_type"]),
    .choice(
      "model.cell", \.model.cell, default: CellKind.lstm,
      help: "Recurrent cell: `lstm` (nn.LSTM), `lstm_peephole` (diagonal peepholes), `gru` (nn.GRU).",
      aliases: ["rnn", "rnn_type", "cell_type", "recurrent"]),
    .layerWidths(
      "model.hidden", \.model.hidden, default: 64,
      help: "Hidden units per layer and direction, or a list with one width per layer (`[128, 64]`: a 128-unit layer "
        + "returning its whole sequence into a 64-unit one; `model.layers` is then the list's length). A map such as "
        + "`{text: [128, 64], audio: 32}` sizes each modality's encoder (every fusion but early).",
      aliases: ["hidden_size", "hidden_dim", "units", "hidden_units"]),
    .encoders(
      "model.encoders", \.model.encoders,
      help:
        "The encoder of each modality that is not a sequence, by name. A static vector (/modalities/<name> [N, D]): "
        + "`{kind: mlp, widths: [32]}` is Linear + ReLU per width (`encoders.<name>.mlp`); `widths: []` (the default) "
        + "passes the vector as it is. An image ([N, C, H, W]) needs `{kind: conv, channels: [64, 128], kernel: 3, pool: 2}`: "
        + "per entry Conv2d(kernel, padding kernel/2) + ReLU + MaxPool2d(pool), then flatten (`encoders.<name>.conv`; "
        + "kernel 3 and pool 2 by default). Sequences have recurrent encoders (`hidden`, `layers`, `cell`).",
      aliases: ["encoder", "modality_encoders", "static_encoders"]),
    .embeddings(
      "model.embed", \.model.embed,
      help:
        "The embedding of each token-id modality (/modalities/<name> integer [N, T]), by name: `{size: 100}` is an "
        + "nn.Embedding(V, 100) (`embed.<name>.weight`) in front of its recurrent encoder, V the largest id + 1. When the "
        + "file holds pretrained vectors `/embeddings/<name>` [V, E], they are its initial weights and it is frozen "
        + "(as nn.Embedding.from_pretrained; `freeze: false` trains them); `size` may then be left out.",
      aliases: ["embedding", "embeddings", "embed_size", "embedding_dim"]),
    .int(
      "model.layers", \.model.layers, default: 1, min: 1,
      help: "Stacked recurrent layers per encoder (with a list in `hidden`: its length, or leave this out).",
      aliases: ["num_layers", "n_layers", "depth", "layer"]),
    .bool(
      "model.bidirectional", \.model.bidirectional, default: false,
      help: "Run every recurrent layer in both directions (the reverse one over each sample's valid steps only).",
      aliases: ["bidir", "bi", "birnn"]),
    .choice(
      "model.pooling", \.model.pooling, default: PoolingKind.last,
      help: "From an encoder's output sequence to one vector: the last valid step, the mean or max over valid steps, "
        + "or temporal attention.",
      aliases: ["pool", "readout", "aggregation"]),
    .optionalInt(
      "model.attention_size", \.model.attentionSize, min: 1,
      help: "Width of attention pooling's scoring layer; null = the encoder output size.",
      aliases: ["attn_size", "attention_dim", "attention_hidden"]),
    .optionalInt(
      "model.fusion_size", \.model.fusionSize, min: 1,
      help: "Width each modality's pooled vector is projected to (attention, tensor and gated fusion); null = the "
        + "encoder output size for attention and gated, 8 for tensor.",
      aliases: ["fusion_dim", "proj_size", "projection_size"]),
    .headWidths(
      "model.head_hidden", \.model.headHidden,
      help: "Hidden widths of the MLP head: `64` (Linear→ReLU→Linear), `[32, 16]` (Linear→ReLU→Linear→ReLU→Linear); "
        + "0 or `[]` = a Linear head; null = a Linear head for early fusion, 64 otherwise.",
      aliases: ["head_size", "mlp_hidden", "classifier_hidden", "head_layers", "dense_units"]),
    .float(
      "model.dropout", \.model.dropout, default: 0, .unitInterval,
      help:
        "Dropout between stacked recurrent layers (as nn.LSTM's `dropout`) and on the fused vector before the head.",
      aliases: ["dropout_rate", "drop", "p_dropout"]),

    // MARK: task
    .choice(
      "task.kind", \.task.kind, default: TaskKind.multiclass,
      help: "Kind of prediction: one label of two, one of many, or real values.",
      aliases: ["type", "task", "objective", "problem"]),
    .choice(
      "task.target", \.task.target, default: TargetKind.sample,
      help: "`sample`: one label per sample (/labels [N], or [N, K] for regression). `step`: one per time step "
        + "(/labels [N, T], or [N, T, K]; steps past /lengths are ignored): the head runs on the top recurrent layer at "
        + "every valid step (Keras `return_sequences=True` + a Dense per step), and loss and metrics are over the valid "
        + "steps. Needs early fusion (one time axis) and `data.align` pad or truncate.",
      aliases: ["target_kind", "per_step", "return_sequences", "sequence_labels", "labels_per_step"]),
    .optionalInt(
      "task.classes", \.task.classes, min: 1,
      help: "Output count. Omit (or null) to infer it from the labels; multiclass needs ≥ 2, binary "
        + "must be 2 or omitted, regression means label columns.",
      aliases: ["num_classes", "n_classes", "nclasses", "outputs", "num_outputs"]),
    .classWeights(
      "task.class_weights", \.task.classWeights,
      help:
        "Per-class loss weights (multiclass and binary), as CrossEntropyLoss(weight=w): the loss of a global batch is "
        + "Σ w_y·l / Σ w_y. `balanced` = n / (C · count_c) over the training rows (sklearn); a list gives one weight ≥ 0 per "
        + "class. Binary uses them as pos_weight = w1 / w0.",
      aliases: ["class_weight", "weights", "weight", "loss_weights", "pos_weight"]),
    .choice(
      "task.loss", \.task.loss, default: RegressionLoss.mse,
      help: "Regression loss: mean squared error, mean absolute error (F.l1_loss), or F.huber_loss with `huber_delta`.",
      aliases: ["loss_fn", "criterion", "loss_function", "regression_loss"]),
    .float(
      "task.huber_delta", \.task.huberDelta, default: 1.0, .positive,
      help: "Huber loss threshold δ: quadratic below it, linear above (task.loss: huber).",
      aliases: ["delta", "huber", "smooth_l1_beta"]),

    // MARK: train
    .int(
      "train.epochs", \.train.epochs, default: 10, min: 1,
      help: "Passes over the training split.",
      aliases: ["num_epochs", "n_epochs", "max_epochs", "epoch"]),
    .int(
      "train.batch_size", \.train.batchSize, default: 64, min: 1,
      help:
        "GLOBAL batch: sequences per optimiser step over all ranks together (the ranks share its work evenly, each keeping its own rows where it can; see Distributed semantics); at least the number of ranks.",
      aliases: ["batch", "batchsize", "bs", "per_device_batch_size"]),
    .choice(
      "train.optimizer", \.train.optimizer, default: OptimizerKind.adam,
      help:
        "Optimizer, as in torch.optim: SGD (momentum, nesterov), Adam (L2 weight decay), AdamW (decoupled weight decay: "
        + "p -= lr·wd·p before the Adam update), RMSprop (alpha, eps; momentum 0, not centered).",
      aliases: ["optim", "opt", "solver"]),
    .float(
      "train.lr", \.train.lr, default: 0.001, .positive,
      help: "Learning rate.",
      aliases: ["learning_rate", "learningrate", "lrate", "step_size", "eta"]),
    .float(
      "train.momentum", \.train.momentum, default: 0.9, .unitInterval,
      help: "SGD momentum (ignored by the others).",
      aliases: ["mom", "sgd_momentum"]),
    .bool(
      "train.nesterov", \.train.nesterov, default: false,
      help: "Nesterov momentum for SGD (needs momentum > 0).",
      aliases: ["nesterov_momentum", "use_nesterov"]),
    .float(
      "train.weight_decay", \.train.weightDecay, default: 0, .nonNegative,
      help: "Weight decay, the optimiser's own: L2 added to the gradient (sgd, adam, rmsprop), decoupled for adamw.",
      aliases: ["wd", "l2", "decay", "l2_penalty"]),
    .float(
      "train.l1", \.train.l1, default: 0, .nonNegative,
      help:
        "L1 penalty λ: adds λ·Σ|p| over the weight matrices (not biases) to the loss; its gradient λ·sign(p) is added "
        + "once, after the all-reduce and before clipping.",
      aliases: ["l1_penalty", "l1_lambda", "lasso", "l1_reg"]),
    .float(
      "train.modality_dropout", \.train.modalityDropout, default: 0, .unitInterval,
      help: "Probability of dropping each modality of each training sample (never all at once); seeded by seed, "
        + "epoch and sample, so every world size drops the same.",
      aliases: ["modality_drop", "mod_dropout", "drop_modality"]),
    .float(
      "train.beta1", \.train.beta1, default: 0.9, .unitInterval,
      help: "Adam/AdamW first-moment decay (ignored by SGD and RMSprop).",
      aliases: ["b1", "adam_beta1", "beta_1"]),
    .float(
      "train.beta2", \.train.beta2, default: 0.999, .unitInterval,
      help: "Adam/AdamW second-moment decay (ignored by SGD and RMSprop).",
      aliases: ["b2", "adam_beta2", "beta_2"]),
    .float(
      "train.eps", \.train.eps, default: 1e-8, .positive,
      help: "Adam/AdamW/RMSprop denominator epsilon (ignored by SGD).",
      aliases: ["epsilon", "adam_eps", "adam_epsilon"]),
    .float(
      "train.alpha", \.train.alpha, default: 0.99, .unitInterval,
      help: "RMSprop smoothing constant of the squared-gradient average (ignored by the others).",
      aliases: ["rho", "rmsprop_alpha", "decay_rate"]),
    .choice(
      "train.schedule", \.train.schedule, default: ScheduleKind.constant,
      help:
        "Learning-rate schedule after the warm-up, per optimiser step s of epoch e: constant lr; step lr·gamma^⌊e/step_epochs⌋; "
        + "exponential lr·gamma^e; cosine lr_min + (lr − lr_min)·(1 + cos(π·(s − W)/(S − W)))/2 over the run's S steps.",
      aliases: ["lr_schedule", "scheduler", "lr_scheduler", "decay_schedule"]),
    .int(
      "train.warmup_steps", \.train.warmupSteps, default: 0, min: 0,
      help: "Linear warm-up W: step s < W uses lr·(s+1)/W; must be below the run's total steps.",
      aliases: ["warmup", "num_warmup_steps", "warm_up_steps", "warmup_iters"]),
    .float(
      "train.gamma", \.train.gamma, default: 0.1, .positive,
      help: "Decay factor of the step and exponential schedules.",
      aliases: ["lr_decay", "decay_factor", "factor"]),
    .int(
      "train.step_epochs", \.train.stepEpochs, default: 10, min: 1,
      help: "Epochs between decays of the step schedule.",
      aliases: ["step_size_epochs", "decay_epochs", "lr_step"]),
    .float(
      "train.lr_min", \.train.lrMin, default: 0, .nonNegative,
      help: "Final learning rate of the cosine schedule.",
      aliases: ["min_lr", "eta_min", "lr_end", "final_lr"]),
    .float(
      "train.clip_norm", \.train.clipNorm, default: 0, .nonNegative,
      help:
        "Clip the averaged gradient to this global L2 norm, as torch.nn.utils.clip_grad_norm_ after DDP's all-reduce; "
        + "0 = off. The pre-clip norm is logged as grad_norm.",
      aliases: ["max_grad_norm", "grad_clip", "clip", "gradient_clip_val", "clipnorm", "max_norm"]),
    .float(
      "train.label_smoothing", \.train.labelSmoothing, default: 0, .unitInterval,
      help: "Label smoothing ε for multiclass, as CrossEntropyLoss(label_smoothing=ε).",
      aliases: ["smoothing", "label_smooth"]),
    .earlyStopping(
      "train.early_stopping", \.train.earlyStopping,
      help:
        "`{metric: val_loss | val_accuracy | val_f1 | val_mae, patience: N, min_delta: d}` (defaults val_loss, 5, 0); "
        + "absent = off. Stops when the metric has not improved by more than d for N epochs; the best epoch is kept as "
        + "checkpoint-best.h5 and `latest` points to it at the end. Needs validation rows.",
      aliases: ["earlystopping", "early_stop", "patience", "earlystop"]),
    .seed(
      "train.seed", \.train.seed, default: 42,
      help: "Random seed (initialisation, shuffling, validation split).",
      aliases: ["random_seed", "rng_seed", "random_state"]),
    .int(
      "train.blas_threads", \.train.blasThreads, default: 1, min: 1,
      help: "OpenBLAS threads per rank, and the threads that decode gzip chunks at start-up. Keep ranks × "
        + "blas_threads ≤ cores.",
      aliases: ["threads", "num_threads", "omp_num_threads", "openblas_threads", "blas"]),

    // MARK: checkpoint
    .string(
      "checkpoint.dir", \.checkpoint.dir, default: "runs/default",
      help: "Folder the checkpoints are written to.",
      aliases: ["path", "directory", "output_dir", "out_dir", "folder", "save_dir"]),
    .int(
      "checkpoint.every_epochs", \.checkpoint.everyEpochs, default: 1, min: 1,
      help: "Write a checkpoint every N epochs.",
      aliases: ["every", "interval", "frequency", "save_every", "period", "every_n_epochs"]),
    .int(
      "checkpoint.keep", \.checkpoint.keep, default: 3, min: 1,
      help: "How many of the most recent checkpoints to keep.",
      aliases: ["keep_last", "max_to_keep", "save_total_limit", "max_keep"]),
    .int(
      "checkpoint.every_steps", \.checkpoint.everySteps, default: 0, min: 0,
      help: "Also write a mid-epoch checkpoint every N optimiser steps, at the exact sampler position (0 = off).",
      aliases: ["save_steps", "every_n_steps", "checkpoint_steps"]),
    .choice(
      "checkpoint.on_error", \.checkpoint.onError, default: CheckpointErrorPolicy.stop,
      help:
        "A checkpoint that cannot be written (full disk, unwritable folder): `stop` the run (exit 1; the previous checkpoint stays intact) or `warn` and go on training.",
      aliases: ["on_failure", "errors", "error_policy"]),

    // MARK: cv
    .int(
      "cv.folds", \.cv.folds, default: 5, min: 2,
      help: "Number of folds k: each sample is in exactly one test fold.",
      aliases: ["k", "n_splits", "splits", "n_folds", "num_folds", "kfold"]),
    .choice(
      "cv.strategy", \.cv.strategy, default: FoldStrategy.kfold,
      help: "Fold assignment, as scikit-learn's KFold, StratifiedKFold (class shares kept), GroupKFold (a `/groups` id "
        + "never in two test folds) and StratifiedGroupKFold.",
      aliases: ["splitter", "method", "fold_strategy", "cv_strategy"]),
    .bool(
      "cv.shuffle", \.cv.shuffle, default: true,
      help: "Shuffle before assigning folds (seeded by `cv.seed`); false reproduces scikit-learn's folds exactly.",
      aliases: ["shuffled", "permute"]),
    .seed(
      "cv.seed", \.cv.seed, default: 0,
      help: "Seed of the fold shuffle (independent of train.seed and of the world size).",
      aliases: ["random_state", "fold_seed", "split_seed"]),
    .int(
      "cv.parallel_folds", \.cv.parallelFolds, default: 1, min: 1,
      help: "Folds trained at the same time: the ranks split into this many groups (it must divide the world size "
        + "and be ≤ cv.folds), each all-reducing within itself.",
      aliases: ["parallel", "concurrent_folds", "groups", "fold_groups"]),
    .bool(
      "cv.refit", \.cv.refit, default: false,
      help: "After the folds, train one final model on every row into RUN_DIR/final/ (scikit-learn's refit): for the "
        + "folds' mean best epoch when early stopping chose the epochs, else train.epochs; no validation split.",
      aliases: ["refit_final", "final_model", "retrain"]),

    // MARK: report
    .bool(
      "report.ablation", \.report.ablation, default: false,
      help: "Re-evaluate each final model with each modality masked out (zero features, length 0): the drop of the "
        + "main metric per modality.",
      aliases: ["modality_ablation", "ablate", "mask_modalities"]),
    .choice(
      "report.metric", \.report.metric, default: ReportMetric.auto,
      help: "Main metric of the bar chart and the ablation; auto = accuracy (classification) or mae (regression).",
      aliases: ["main_metric", "metric_name", "score", "scoring"]),

    // MARK: dist
    .float(
      "dist.timeout_s", \.dist.timeoutSeconds, default: 600, .nonNegative,
      help:
        "Watchdog: a collective that waits longer than this many seconds for the other ranks aborts the job, naming the ranks that did not arrive and the step (0 = off).",
      aliases: ["timeout", "watchdog", "collective_timeout", "nccl_timeout"]),
    .int(
      "dist.check_every", \.dist.checkEvery, default: 0, min: 0,
      help:
        "Every N steps the ranks compare a checksum of their parameters and stop, naming a rank whose replica diverged (0 = off).",
      aliases: ["check", "consistency_check", "verify_every"]),
    .choice(
      "dist.compress", \.dist.compress, default: GradientCompression.none,
      help: "Gradient all-reduce payload: `none` sends float32; `fp16` rounds each gradient to float16 before the sum "
        + "and sums in float16 (half the bytes on the network, ~1e-3 relative error per gradient; for slow "
        + "interconnects, not a shared-memory node).",
      aliases: ["compression", "fp16_allreduce", "grad_compression", "allreduce_dtype"]),
    .bool(
      "dist.world_invariant", \.dist.worldInvariant, default: true,
      help: "Bit-identical training on any number of ranks: each global batch is cut into chunks of 8 rows, each "
        + "computed whole by one rank, and the chunks' gradients, losses and weights are summed exactly as 64-bit "
        + "fixed point (same binary and sgemm kernel). On by default (off when dist.compress is fp16, which it "
        + "cannot be combined with); a resume that leaves it out continues as the checkpoint was trained. Its cost "
        + "on the benchmark, median of 11 paired rounds: 0.6% (W1) and 2.3% (W2) at 1 rank, 3.5% and 4.3% at 2; "
        + "single rounds ranged -6% to 16%. Set false for the plain float all-reduce.",
      aliases: ["deterministic", "reproducible", "bitwise", "world_size_invariant", "invariant"]),
  ]

  static let sectionNames: [String] = sections.map(\.name)

  static func key(_ path: String) -> ConfigKey? { keys.first { $0.path == path } }

  static func keys(in section: String) -> [ConfigKey] { keys.filter { $0.section == section } }
}
