//===- Passes.td - building a training step ----------------*- tablegen -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_TRAINING_TRANSFORMS_PASSES_TD
#define QAT_TRAINING_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def GenerateBackwardPass : Pass<"qat-generate-backward", "::mlir::ModuleOp"> {
  let summary = "Reverse-mode differentiation of forward plus a loss";
  let description = [{
    Creates a function (default `@loss_and_gradients`) that runs the model's
    forward function, applies the softmax cross-entropy loss
    (`qat.softmax_cross_entropy`, mean over the batch) to its logits against
    integer labels, and returns the loss and the gradient of the loss with
    respect to every trainable parameter (a forward argument marked
    `qat.trainable`, as `qat-import` marks PyTorch's parameters).

    Signature: forward's arguments (same attributes), then
    `labels : tensor<N x i64> {qat.input = "labels"}`; results: the loss
    (`qat.output = "loss"`), forward's results (the logits, named
    `qat.output = "logits"`, then the state the forward pass writes, such as
    batch-norm running statistics, with their `qat.state` names; other
    outputs are named `output<i>`), then one gradient per trainable
    parameter, in argument order, named by `qat.gradient`.

    A forward whose result `logits-result` is a 0-d f32 tensor returns its
    own loss (a model trained from `(inputs, targets)`, with any of
    PyTorch's losses that the importer knows): that result is
    differentiated as it is, no labels argument is added, and it is the
    function's first result (not repeated among forward's).

    The pass walks the forward ops in reverse and asks each op on a path
    from a parameter to the loss for its vector-Jacobian product through
    `DifferentiableOpInterface`; it names no op itself. Gradients reaching a
    value along several uses are summed. Fake quantization passes gradients
    by the straight-through estimator with its clipping mask; observers and
    quantization parameters are not differentiated. An op on the path
    without a gradient rule is an error naming the op.

    Example: `qat-opt --qat-generate-backward model.mlir`.
  }];
  let options = [
    Option<"forwardName", "forward", "std::string", "\"forward\"",
           "The function to differentiate">,
    Option<"logitsIndex", "logits-result", "unsigned", "0",
           "Which result of the forward function holds the logits">,
    Option<"functionName", "function", "std::string",
           "\"loss_and_gradients\"", "Name of the generated function">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect",
    "::mlir::tosa::TosaDialect",
    "::mlir::qat::QatDialect"
  ];
}

def OptimizerPass : Pass<"qat-optimizer", "::mlir::ModuleOp"> {
  let summary = "SGD with momentum or Adam, with per-group weight decay";
  let description = [{
    Creates the training step (default `@train_step`) around the function
    made by `--qat-generate-backward`: it computes the loss and gradients,
    then updates every trainable parameter in f32, as PyTorch's optimizer
    named by `algorithm` does.

    `algorithm=sgd`, `torch.optim.SGD` (dampening 0), in this order:

    ```
    d   = g + weight_decay * p            (skipped when weight_decay is 0)
    buf = momentum * buf + d
    d   = nesterov ? d + momentum * buf : buf
    p   = p - lr * d
    ```

    The momentum buffer of parameter `P` is the state `sgd.momentum.P`.

    `algorithm=adam`, `torch.optim.Adam` (amsgrad off), step `t` counted
    from 1:

    ```
    d  = g + weight_decay * p             (skipped when weight_decay is 0)
    m  = beta1 * m + (1 - beta1) * d
    v  = beta2 * v + ((1 - beta2) * d) * d
    c1 = 1 - beta1^t,  c2 = 1 - beta2^t    (f64, C's pow, as Python's **)
    p  = p - ((lr / c1) * m) / (sqrt(v) / sqrt(c2) + epsilon)
    ```

    `lr / c1` and `sqrt(c2)` are computed in f64 and rounded to f32 once,
    as PyTorch's scalars are; the rest is f32 with IEEE division and
    square root, one fused elementwise kernel per parameter. The moments
    of `P` are the states `adam.exp_avg.P` and `adam.exp_avg_sq.P`, and `t`
    is `adam.step` (i64). With `--qat-grad-boost` this is the method's
    QAdam.

    Every optimizer state is an argument and a result of the step, kept in
    a mutable `ml_program.global` of that name that starts at zero (created
    when missing, so running the pass again on a saved module continues
    from its optimizer state). The learning rate is the runtime input
    `learning_rate : tensor<f32>`, so the schedule lives in the driver.

    Weight decay is chosen per parameter group, as in the method's reference:
    depthwise-convolution weights (4-D weights feeding a grouped
    convolution with one input channel per group), other 4-D weights, and
    everything else (batch-norm parameters, biases, linear weights).

    Signature: forward's state arguments, the optimizer states, forward's
    inputs, the labels and the learning rate; results: the loss, the logits,
    then the new value of every state the step writes (parameters, buffers
    the forward pass updates, optimizer states), each named by `qat.state`.
  }];
  let options = [
    Option<"gradientFunction", "gradient-function", "std::string",
           "\"loss_and_gradients\"",
           "The function made by --qat-generate-backward">,
    Option<"functionName", "function", "std::string", "\"train_step\"",
           "Name of the generated step function">,
    Option<"algorithm", "algorithm", "::mlir::qat::OptimizerAlgorithm",
           "::mlir::qat::OptimizerAlgorithm::sgd", "The update rule",
           [{::llvm::cl::values(
             clEnumValN(::mlir::qat::OptimizerAlgorithm::sgd, "sgd",
                        "SGD with momentum (torch.optim.SGD)"),
             clEnumValN(::mlir::qat::OptimizerAlgorithm::adam, "adam",
                        "Adam (torch.optim.Adam)"))}]>,
    Option<"momentum", "momentum", "double", "0.9", "SGD's momentum factor">,
    Option<"nesterov", "nesterov", "bool", "true", "SGD's Nesterov momentum">,
    Option<"beta1", "beta1", "double", "0.9",
           "Adam's averaging factor of the gradient">,
    Option<"beta2", "beta2", "double", "0.999",
           "Adam's averaging factor of the squared gradient">,
    Option<"epsilon", "epsilon", "double", "1e-8",
           "Adam's term added to the denominator">,
    Option<"weightDecayDepthwise", "weight-decay-depthwise", "double", "0.0",
           "Weight decay of depthwise-convolution weights">,
    Option<"weightDecayConv", "weight-decay-conv", "double", "1e-5",
           "Weight decay of the other 4-D (convolution) weights">,
    Option<"weightDecayOther", "weight-decay-other", "double", "1e-7",
           "Weight decay of every other parameter">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::ml_program::MLProgramDialect",
    "::mlir::tensor::TensorDialect",
    "::mlir::tosa::TosaDialect"
  ];
}

def GradBoostPass : Pass<"qat-grad-boost", "::mlir::ModuleOp"> {
  let summary = "GradBoost: sign-aligned gradient noise in the training step";
  let description = [{
    Rewrites the training step (made by `--qat-optimizer`) so that every
    parameter's gradient passes through `qat.grad_boost` before the
    optimizer update: the op keeps the per-element gradient statistics and
    adds the method's noise (see the op for the formulas).

    The state it adds, each an argument and a result of the step kept in a
    mutable global (created at zero when missing, so a saved module
    resumes): `grad_boost.max.P` and `grad_boost.min.P` per parameter `P`,
    `grad_boost.step` (updates so far, the `t` of the bias correction) and
    `grad_boost.qat_steps` (noisy steps so far, the `k` of the decay). The
    runtime input `grad_boost_noise : tensor<f32>` switches the noise: 0
    updates only the statistics (the StatAssist warm-up), anything else adds
    noise and counts a QAT step. Parameter number `i` (in argument order)
    draws from noise stream `i`, seeded by the runtime input
    `grad_boost_seed : tensor<i64>` (an input rather than an option, so
    that runs differing only in their seed share one compiled step).
  }];
  let options = [
    Option<"functionName", "function", "std::string", "\"train_step\"",
           "The training step to rewrite">,
    Option<"variant", "variant", "::mlir::qat::GradBoostVariant",
           "::mlir::qat::GradBoostVariant::reference",
           "Bias correction of the statistics", [{::llvm::cl::values(
             clEnumValN(::mlir::qat::GradBoostVariant::reference, "reference",
                        "the method's code: the correction compounds"),
             clEnumValN(::mlir::qat::GradBoostVariant::corrected, "corrected",
                        "Adam-style, not written back; a real minimum"))}]>,
    Option<"beta", "beta", "float", "0.9f", "Statistics' averaging factor">,
    Option<"decay", "decay", "float", "0.01f",
           "Noise decay lambda per QAT step">,
    Option<"clip", "clip", "float", "1e-3f", "Noise magnitude bound">,
    Option<"coinProbability", "coin-probability", "float", "0.5f",
           "Probability that an element gets noise (1: coin toss off)">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::ml_program::MLProgramDialect",
    "::mlir::qat::QatDialect"
  ];
}

def StatAssistPass : Pass<"qat-stat-assist", "::mlir::ModuleOp"> {
  let summary = "StatAssist: derive the floating-point warm-up step";
  let description = [{
    Derives the FP warm-up step of StatAssist (default
    `@train_step_warmup`) from the QAT training step (`@train_step`, made by
    `--qat-optimizer` and optionally `--qat-grad-boost` from a model with
    fake quantization):

    - its loss-and-gradients function is cloned (`<name>_warmup`) with every
      `qat.fake_quant` bypassed (its input passes through) and every
      straight-through mask all true, so the forward and backward passes
      are the model's floating-point ones;
    - the observers stay: they record the ranges of the FP activations and
      weights;
    - GradBoost's `grad_boost_noise` input becomes 0: the warm-up updates
      the gradient statistics without adding noise;
    - `@forward_eval`, if present, gets an FP twin `@forward_eval_warmup`
      (fake quantization bypassed) to evaluate the warm-up epochs with;
    - everything else is shared: the same parameters, batch-norm
      statistics, momentum and GradBoost state, so QAT continues from the
      warm-up's optimizer state, as the method prescribes.

    With `inherit-observers=false` (the method's reference behaviour) the
    state the observers and `qat.choose_qparams` write is renamed
    `stat_assist.<name>` in the warm-up step (new globals, initialized like
    the originals), so QAT starts with empty observers. With
    `inherit-observers=true` (an extension) the warm-up writes the real
    observer state and QAT starts from the FP ranges.
  }];
  let options = [
    Option<"functionName", "function", "std::string", "\"train_step\"",
           "The QAT training step">,
    Option<"warmupName", "warmup-function", "std::string",
           "\"train_step_warmup\"", "Name of the derived warm-up step">,
    Option<"inheritObservers", "inherit-observers", "bool", "false",
           "QAT starts from the observer ranges of the FP warm-up">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::ml_program::MLProgramDialect"
  ];
}

def FrozenBatchNormForwardPass
    : Pass<"qat-frozen-bn-forward", "::mlir::ModuleOp"> {
  let summary = "A twin of the forward whose batch norms are frozen";
  let description = [{
    Adds `@forward_frozen_bn`, a private copy of `@forward` in which every
    batch norm in training mode normalizes with its running statistics and
    stops updating them (PyTorch's `freeze_bn_stats`). qat-train
    `--freeze-bn-after-epochs` builds a second training step from it
    (`--qat-generate-backward` and `--qat-optimizer` with
    `forward=forward_frozen_bn`) and switches to that step after the given
    epochs: the same state, the same names.

    Does nothing if the twin exists (a checkpoint resumes); fails if the
    forward has no batch norm in training mode.

    ```mlir
    // qat-opt --qat-frozen-bn-forward: a copy of @forward whose
    // "qat.batch_norm"(...) {training} ops lose `training`.
    ```
  }];
  let options = [
    Option<"forwardName", "forward", "std::string", "\"forward\"",
           "The function to copy">,
    Option<"functionName", "function", "std::string",
           "\"forward_frozen_bn\"", "Name of the copy">
  ];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

def DataParallelForwardPass
    : Pass<"qat-data-parallel-forward", "::mlir::ModuleOp"> {
  let summary = "A twin of the forward for one replica of a data-parallel step";
  let description = [{
    Adds a private copy of the forward (default `@forward` to
    `@forward_data_parallel`) for a training step that `replicas` processes
    run together, each on its share of the global batch, and that must
    leave every replica with the same state:

    - each trainable parameter (`qat.trainable` argument) is read through
      `qat.replicated_parameter`, so its gradient is the mean of the
      replicas' gradients (the gradient of the global batch's mean loss);
      the optimizer and GradBoost, built on the gradient, then agree;
    - every observer gets `across_replicas`: it merges the global batch's
      minimum and maximum into its state, exactly what one process would
      with the whole batch;
    - batch norms in training mode either normalize with the global batch's
      statistics (`sync-batch-norm`: `replicas R` on the op, PyTorch's
      `SyncBatchNorm`), or with the replica's own as PyTorch's default, in
      which case their new running statistics are averaged over the
      replicas (`qat.all_reduce sum` times `1 / R`) so that the replicas
      keep one copy.

    `--qat-generate-backward forward=forward_data_parallel` then builds the
    replica's step. The twin replaces one made before (another replica
    count); the forward itself is not changed, so a saved module resumes
    with any number of replicas.

    ```mlir
    // qat-opt --qat-data-parallel-forward=replicas=2: a copy of @forward
    // whose parameters pass through qat.replicated_parameter ... replicas 2
    // and whose observers are across_replicas.
    ```
  }];
  let options = [
    Option<"forwardName", "forward", "std::string", "\"forward\"",
           "The function to copy">,
    Option<"functionName", "function", "std::string",
           "\"forward_data_parallel\"", "Name of the copy">,
    Option<"replicas", "replicas", "int64_t", "2",
           "Processes that run the step together (>= 1)">,
    Option<"syncBatchNorm", "sync-batch-norm", "bool", "false",
           "Batch norms normalize with the global batch's statistics">
  ];
  let dependentDialects = [
    "::mlir::func::FuncDialect",
    "::mlir::qat::QatDialect",
    "::mlir::tosa::TosaDialect"
  ];
}

#endif // QAT_TRAINING_TRANSFORMS_PASSES_TD
