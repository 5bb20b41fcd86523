"""qat-mlir in the Python process: import a model, train it with QAT from
scratch (StatAssist and GradBoost), compile it to int8 and call it.

    import qat_mlir
    module = qat_mlir.import_module(torch_model, torch.zeros(64, 1, 28, 28))
    trainer = qat_mlir.Trainer(module, stat_assist_epochs=1, grad_boost=True)
    trainer.fit((train_images, train_labels), epochs=2)
    model = qat_mlir.compile(trainer, target="host")
    logits = model(test_images)

Arrays are NumPy arrays or torch tensors (CPU). Images are N x C x H x W:
uint8 images are normalized as training normalized them, (p / 255 - mean)
/ std with the module's recorded mean and std; float32 images are taken
as normalized already. Compiler errors raise `QatError` with the
compiler's diagnostics; bad arrays raise `ValueError` naming the argument.
"""

import math
import os
import tempfile
import time

import numpy as np

from qat_mlir import _qat_mlir as _native

QatError = _native.QatError

__all__ = ["CompiledModel", "Module", "QatError", "Trainer", "compile",
           "default_cache_dir", "host_target", "import_module", "targets"]


def default_cache_dir():
    """Where compiled code is kept between calls and processes:
    $QAT_MLIR_CACHE_DIR, else ~/.cache/qat-mlir."""
    return os.environ.get("QAT_MLIR_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "qat-mlir")


def targets():
    """(name, description, runs on this CPU) of each compilation target."""
    return _native.targets()


def host_target():
    """The best target this CPU runs (compile's target="host")."""
    return _native.host_target()


def _as_numpy(value, name):
    """A NumPy view of a torch tensor (detached, on the CPU) or an array."""
    if type(value).__module__.startswith("torch"):
        value = value.detach().cpu().numpy()
    if not isinstance(value, np.ndarray):
        raise ValueError(f"{name} must be a NumPy array or a torch tensor, "
                         f"got {type(value).__name__}")
    return value


def _normalized(images, normalization, name):
    """float32 images as they are; uint8 images (p / 255 - mean) / std,
    each step rounded to float32 as qat-train and the classifier do."""
    images = _as_numpy(images, name)
    if images.dtype == np.uint8:
        if normalization is None:
            raise ValueError(f"{name} are uint8 but the module records no "
                             "normalization: pass float32 images, or give "
                             "the Trainer input_mean and input_std")
        mean, std = normalization
        x = images.astype(np.float32) / np.float32(255)
        return (x - np.float32(mean)) / np.float32(std)
    if images.dtype != np.float32:
        raise ValueError(f"{name} must be float32 (normalized) or uint8, got "
                         f"{images.dtype}")
    return images


def _with_channels(images, channels):
    """N x H x W images as N x 1 x H x W where the model takes one channel."""
    if images.ndim == 3 and channels == 1:
        return images[:, None, :, :]
    return images


class Module:
    """A model as an MLIR module: what import_module makes, what a Trainer
    trains and what compile compiles. `str(module)` is its MLIR text."""

    def __init__(self, native):
        self._native = native

    @classmethod
    def load(cls, path):
        """A module from an .mlir file (qat-import, qat-train, save())."""
        return cls(_native.load_module(os.fspath(path)))

    @classmethod
    def parse(cls, text, name="<string>"):
        return cls(_native.parse_module(text, name))

    def __str__(self):
        return str(self._native)

    @property
    def mlir(self):
        """The module's MLIR text."""
        return str(self._native)

    def save(self, path):
        """Writes the MLIR text atomically (a temporary file, renamed)."""
        self._native.save(os.fspath(path))

    @property
    def functions(self):
        return self._native.functions

    @property
    def normalization(self):
        """(mean, std) of the images the module was trained on, or None."""
        return self._native.normalization

    @property
    def trained_epochs(self):
        return self._native.trained_epochs


def _is_shape(value):
    return isinstance(value, (tuple, list)) and all(isinstance(d, int) for d in value)


def _example_tuple(example_inputs):
    """One entry per model input: a shape (ints) or an array or tensor."""
    if _is_shape(example_inputs) or not isinstance(example_inputs, (tuple, list)):
        return (example_inputs,)
    return tuple(example_inputs)


def _input_shapes(example_inputs):
    if example_inputs is None:
        return []
    example_inputs = _example_tuple(example_inputs)
    shapes = []
    for index, value in enumerate(example_inputs):
        if _is_shape(value):
            shapes.append(list(value))
        else:
            shapes.append(list(_as_numpy(value, f"example_inputs[{index}]").shape))
    return shapes


def _input_types(example_inputs):
    """"i64" for integer example inputs (class-index targets), else "f32"."""
    if example_inputs is None:
        return []
    return ["f32" if _is_shape(value) or
            not np.issubdtype(_as_numpy(value, "example_inputs").dtype, np.integer)
            else "i64" for value in _example_tuple(example_inputs)]


def import_module(model, example_inputs=None, mode="train"):
    """Imports a PyTorch model as a Module.

    `model`: a torch.nn.Module (traced with `example_inputs`, on a copy in
    the mode imported; scripted without), a torch.jit.ScriptModule, or the
    path of a
    TorchScript archive. `example_inputs`: a tensor, array or shape per
    input (a tuple for several); its first size is the batch every step
    and call uses. Integer example inputs are int64 inputs (the class-index
    targets of a model whose forward returns its loss); the others f32. `mode`: "train" (for a Trainer: training-mode forward
    plus an evaluation forward) or "eval".
    """
    if mode not in ("train", "eval"):
        raise ValueError(f"mode must be 'train' or 'eval', not {mode!r}")
    shapes = _input_shapes(example_inputs)
    types = _input_types(example_inputs)
    if isinstance(model, (str, os.PathLike)):
        return Module(_native.import_torchscript(os.fspath(model), shapes,
                                                 mode == "train", types))
    import torch
    if not isinstance(model, torch.nn.Module):
        raise ValueError("model must be a torch.nn.Module, a TorchScript "
                         f"module or a path, not {type(model).__name__}")
    if not isinstance(model, torch.jit.ScriptModule):
        if example_inputs is None:
            model = torch.jit.script(model)
        else:
            # Traced in the mode imported, on a copy: a training-mode trace
            # runs the model once, which would move the user's batch-norm
            # statistics.
            import copy
            traced = copy.deepcopy(model).train(mode == "train")
            # In the dtypes declared to the importer (_input_types).
            inputs = tuple(torch.zeros(*s) if _is_shape(s) else
                           torch.as_tensor(_as_numpy(s, "example_inputs"),
                                           dtype=torch.int64 if t == "i64" else torch.float32)
                           for s, t in zip(_example_tuple(example_inputs), types))
            with torch.no_grad():
                model = torch.jit.trace(traced, inputs, check_trace=False)
    with tempfile.TemporaryDirectory(prefix="qat-import-") as tmp:
        # Diagnostics name this file: call it after the model's class.
        name = getattr(model, "original_name", None) or type(model).__name__
        path = os.path.join(tmp, f"{name}.pt")
        model.save(path)
        return Module(_native.import_torchscript(path, shapes, mode == "train", types))


def _module_of(value):
    if isinstance(value, Trainer):
        return value.module
    if isinstance(value, Module):
        return value
    raise ValueError(f"expected a qat_mlir Module or Trainer, not {type(value).__name__}")


class Trainer:
    """Trains a Module (imported with mode="train") with QAT from scratch,
    one compiled step per batch, as qat-train does.

    qconfig: "per-tensor" or "per-channel" int8 weights to prepare an fp32
        module for QAT; None: "per-tensor" unless the module has fake
        quantization already (a PyTorch QAT model), then as it is.
    stat_assist_epochs: StatAssist's FP warm-up epochs before QAT.
    grad_boost: GradBoost the gradients (QSGD); grad_boost_variant,
        grad_boost_beta, grad_boost_decay, grad_boost_clip and
        grad_boost_coin_probability as in qat-train.
    optimizer: "sgd" (momentum, nesterov; with GradBoost: QSGD) or "adam"
        (betas, eps as torch.optim.Adam's; with GradBoost: QAdam), and the
        weight decays of qat-train (L2, added to the gradient).
    lr: peak learning rate of fit's schedule (linear warm-up over
        lr_warmup_epochs, then cosine decay to 0, restarted for QAT).
    target_exact: quantized layers compute the deployed integer
        arithmetic, so compile's int8 code gives the trained outputs.
    input_mean, input_std: the normalization of uint8 images (default: the
        training images' own, computed by fit); recorded in the module.
    threads: threads of each large op of the step (OpenMP).
    distributed: data-parallel training under `mpirun -np N python3 ...`
        (docs/distributed.md): every rank builds the same Trainer from the
        same module, whose batch is a rank's share; fit on arrays gives rank
        r the r-th share of each global batch of batch_size * N images, the
        compiled step reduces gradients, observer ranges and batch-norm
        statistics over the ranks, and every rank keeps the same state.
        Losses and accuracies are the global batch's; only rank 0 shows
        progress and writes checkpoints and save()s. sync_batch_norm: batch
        norms use the global batch's statistics. check_replicas: after each
        epoch of fit, compare the ranks' states and raise QatError if one
        differs.
    """

    def __init__(self, module, qconfig=None, qconfig_activations="uint8",
                 stat_assist_epochs=1, grad_boost=True, optimizer="sgd",
                 lr=5e-3, lr_warmup_epochs=1.0, momentum=0.9, nesterov=True,
                 weight_decay_conv=1e-5, weight_decay_depthwise=0.0,
                 weight_decay_other=1e-7, seed=0, threads=None,
                 target_exact=True, freeze_bn_after_epochs=0,
                 inherit_observers=False, input_mean=None, input_std=None,
                 cache_dir=None, opt_level=2, distributed=False,
                 sync_batch_norm=False, check_replicas=False, betas=(0.9, 0.999),
                 eps=1e-8, **grad_boost_options):
        if not isinstance(module, Module):
            raise ValueError(f"module must be a qat_mlir Module, not {type(module).__name__}")
        if "forward_eval" not in module.functions:
            raise ValueError("the module has no evaluation forward: import it with "
                             "import_module(..., mode='train') to train it")
        if optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer {optimizer!r} is not supported (sgd: "
                             "SGD with momentum, adam: Adam; QSGD and QAdam "
                             "with grad_boost)")
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), not {betas!r}")
        if qconfig is None and module.trained_epochs == 0:
            qconfig = "" if "qat.fake_quant" in module.mlir else "per-tensor"
        for key in grad_boost_options:
            if key not in ("grad_boost_variant", "grad_boost_beta",
                           "grad_boost_decay", "grad_boost_clip",
                           "grad_boost_coin_probability"):
                raise TypeError(f"Trainer got an unexpected keyword argument {key!r}")
        if (input_mean is None) != (input_std is None):
            raise ValueError("give both input_mean and input_std, or neither")
        if input_std is not None and not (math.isfinite(input_mean) and
                                          math.isfinite(input_std) and input_std > 0):
            raise ValueError("input_mean must be finite and input_std finite and positive")
        self.lr = float(lr)
        self.lr_warmup_epochs = float(lr_warmup_epochs)
        self.stat_assist_epochs = int(stat_assist_epochs)
        self.seed = int(seed)
        self.history = []
        options = dict(qconfig=qconfig or "", qconfig_activations=qconfig_activations,
                       stat_assist_epochs=stat_assist_epochs, grad_boost=grad_boost,
                       lr=lr, optimizer=optimizer, momentum=momentum, nesterov=nesterov,
                       adam_beta1=float(betas[0]), adam_beta2=float(betas[1]),
                       adam_epsilon=float(eps),
                       weight_decay_conv=weight_decay_conv,
                       weight_decay_depthwise=weight_decay_depthwise,
                       weight_decay_other=weight_decay_other, seed=seed,
                       threads=threads or os.cpu_count() or 1,
                       target_exact=target_exact,
                       freeze_bn_after_epochs=freeze_bn_after_epochs,
                       inherit_observers=inherit_observers,
                       cache_dir=default_cache_dir() if cache_dir is None else cache_dir,
                       opt_level=opt_level, distributed=bool(distributed),
                       sync_batch_norm=bool(sync_batch_norm), **grad_boost_options)
        if check_replicas and not distributed:
            raise ValueError("check_replicas goes with distributed=True")
        self.check_replicas = bool(check_replicas)
        self._session = _native.TrainingSession(module._native, options)
        self.epoch = self._session.epochs_done
        self._global_step = 0
        self._normalization = module.normalization
        if input_mean is not None:
            self._normalization = (float(input_mean), float(input_std))

    @property
    def batch_size(self):
        """Images per step of this process (a rank's share when distributed)."""
        return self._session.batch_size

    @property
    def rank(self):
        """This process's rank (0 unless distributed)."""
        return self._session.rank

    @property
    def ranks(self):
        """The processes training together (1 unless distributed)."""
        return self._session.ranks

    @property
    def image_shape(self):
        """C x H x W of the model's images."""
        return tuple(self._session.image_shape[1:])

    @property
    def num_classes(self):
        """The classifier's classes (0 for a model that returns its loss)."""
        return self._session.num_classes

    @property
    def returns_loss(self):
        """Whether the model's forward returns its loss from (inputs,
        targets) (docs/training.md#models-that-return-their-loss) rather
        than logits for the built-in cross-entropy."""
        return self._session.returns_loss

    def _targets(self, targets, name):
        """A model that returns its loss: its target arrays, one or a tuple
        of one per target input, in the dtypes the model takes (int64 class
        indices, float32 values: uint8 masks become float32 for BCE)."""
        dtypes = self._session.target_dtypes
        items = targets if isinstance(targets, tuple) else (targets,)
        if len(items) != len(dtypes):
            raise ValueError(f"the model takes {len(dtypes)} target input(s), got {len(items)}")
        converted = []
        for index, (value, dtype) in enumerate(zip(items, dtypes)):
            array = _as_numpy(value, name if len(items) == 1 else f"{name}[{index}]")
            if dtype == np.int64 and not np.issubdtype(array.dtype, np.integer):
                raise ValueError(f"{name} must hold integer class indices, got {array.dtype}")
            converted.append(np.ascontiguousarray(array, dtype=dtype))
        return tuple(converted) if isinstance(targets, tuple) else converted[0]

    @property
    def phase(self):
        """The current epoch's phase: "fp_warmup" (StatAssist), "qat" or
        "qat_frozen_bn"."""
        return self._session.phase_of(self.epoch)

    @property
    def compile_seconds(self):
        return self._session.compile_seconds

    def _batch(self, inputs, name):
        images = _normalized(inputs, self._normalization, name)
        if len(self.image_shape) == 3:  # N x H x W images of 1 channel
            images = _with_channels(images, self.image_shape[0])
        return images

    def step(self, inputs, targets, lr=None):
        """One optimizer step on a batch (batch_size images and integer
        labels) in the current phase; returns the batch's mean loss (the
        global batch's when distributed: every rank steps together)."""
        images = self._batch(inputs, "inputs")
        if self.returns_loss:
            labels = self._targets(targets, "targets")
        else:
            labels = _as_numpy(targets, "targets")
            if labels.dtype != np.int64 and np.issubdtype(labels.dtype, np.integer):
                labels = labels.astype(np.int64)
        loss = self._session.step(images, labels, self.lr if lr is None else lr,
                                  self.phase, self._global_step)
        loss = self._session.mean_over_ranks(loss)
        self._global_step += 1
        if not math.isfinite(loss):
            raise QatError(f"training diverged at epoch {self.epoch + 1}, step "
                           f"{self._global_step}: the loss is {loss}"
                           f"{self._session.first_non_finite_parameter()} "
                           "(lower the learning rate, or check the data)")
        return loss

    def last_logits(self):
        """batch_size x num_classes logits of the last step."""
        return self._session.logits()

    def predict(self, inputs):
        """Logits of any number of images with the evaluation forward (fake
        quantization; FP during the StatAssist warm-up); of a model that
        returns its loss, its other output (e.g. per-pixel scores)."""
        images = self._batch(inputs, "inputs")
        if images.ndim != len(self.image_shape) + 1:
            raise ValueError(f"inputs must be N x {' x '.join(map(str, self.image_shape))}, "
                             f"got shape {images.shape}")
        batch = self.batch_size
        count = images.shape[0]
        if count == 0:
            raise ValueError("inputs holds no images")
        outputs = None
        padded = np.zeros((batch,) + tuple(self.image_shape), np.float32)
        fp = self.phase == "fp_warmup"
        for start in range(0, count, batch):
            chunk = images[start:start + batch]
            if chunk.shape[0] == batch and chunk.flags.c_contiguous:
                rows = self._session.predict(chunk, fp)
            else:
                padded[:] = 0
                padded[:chunk.shape[0]] = chunk
                rows = self._session.predict(padded, fp)
            if outputs is None:
                outputs = np.empty((count,) + rows.shape[1:], np.float32)
            outputs[start:start + chunk.shape[0]] = rows[:chunk.shape[0]]
        return outputs

    def evaluate(self, inputs, targets):
        """{"accuracy": %, "loss": mean cross-entropy} on the images; for a
        model that returns its loss, {"loss": its mean} over the full
        batches of the data (evaluation forward)."""
        if self.returns_loss:
            images = self._batch(inputs, "inputs")
            targets = self._targets(targets, "targets")
            batch, fp, losses = self.batch_size, self.phase == "fp_warmup", []
            for start in range(0, images.shape[0] - batch + 1, batch):
                rows = slice(start, start + batch)
                chunk = (tuple(np.ascontiguousarray(t[rows]) for t in targets)
                         if isinstance(targets, tuple) else np.ascontiguousarray(targets[rows]))
                self._session.predict(np.ascontiguousarray(images[rows]), fp, chunk)
                losses.append(self._session.last_loss)
            if not losses:
                raise ValueError(f"evaluate needs at least one batch of {batch}")
            return {"loss": float(np.mean(losses))}
        logits = self.predict(inputs)
        labels = _as_numpy(targets, "targets").astype(np.int64)
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = float(-log_probs[np.arange(len(labels)), labels].mean())
        accuracy = 100.0 * float((logits.argmax(axis=1) == labels).mean())
        return {"accuracy": accuracy, "loss": loss}

    def _batches(self, data, epoch):
        """(images, labels, count) per step, and the steps per epoch."""
        if isinstance(data, tuple) and len(data) == 2:
            images = _as_numpy(data[0], "data[0]")
            if self.returns_loss:
                labels = self._targets(data[1], "data[1]")
                for target in labels if isinstance(labels, tuple) else (labels,):
                    if len(target) != len(images):
                        raise ValueError(f"data has {len(images)} inputs but "
                                         f"{len(target)} targets")
            else:
                labels = _as_numpy(data[1], "data[1]")
                if len(images) != len(labels):
                    raise ValueError(f"data has {len(images)} images but {len(labels)} labels")
            # Global batches, as qat-train's: rank r takes the r-th share.
            share = self.batch_size
            global_batch = share * self.ranks
            steps = len(images) // global_batch
            if steps == 0:
                raise ValueError(f"data has {len(images)} images, fewer than "
                                 f"one batch of {global_batch}")
            order = _native.epoch_order(self.seed, epoch, len(images))

            def generate():
                for step in range(steps):
                    start = step * global_batch + self.rank * share
                    rows = order[start:start + share]
                    yield images[rows], (tuple(t[rows] for t in labels)
                                         if isinstance(labels, tuple) else labels[rows])
            return generate(), steps
        return iter(data), (len(data) if hasattr(data, "__len__") else None)

    def _set_normalization_from(self, data):
        if self._normalization is not None:
            return
        if isinstance(data, tuple) and len(data) == 2:
            images = _as_numpy(data[0], "data[0]")
            if images.dtype == np.uint8:
                # As qat-train: the training images' mean and standard
                # deviation of p / 255.
                mean, std = _native.image_statistics(np.ascontiguousarray(images))
                self._normalization = (mean, std or 1.0)

    def fit(self, data, epochs, validation_data=None, progress=True, checkpoint=None,
            stop_after_epoch=None):
        """Trains until stat_assist_epochs + epochs epochs are done (a
        resumed Trainer continues after the ones its module records).

        data: (images, labels) arrays, shuffled per epoch from the seed
        exactly as qat-train shuffles (the last partial batch is dropped),
        or any iterable of (inputs, targets) batches, e.g. a torch
        DataLoader (batches of another size are skipped). With a length,
        the learning rate follows qat-train's schedule; without, it stays
        at lr. validation_data: (images, labels), evaluated after each
        epoch. checkpoint: a path the module is saved to after each epoch.
        stop_after_epoch: stop once this many epochs are done (the run
        resumes, with the same `epochs`, from its checkpoint). Returns the
        history: one dict per epoch.
        """
        self._set_normalization_from(data)
        total = self.stat_assist_epochs + int(epochs)
        last = total if stop_after_epoch is None else min(total, int(stop_after_epoch))
        bar = None
        if progress:
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
        for epoch in range(self.epoch, last):
            self.epoch = epoch
            phase = self.phase
            fp = phase == "fp_warmup"
            phase_start = 0 if fp else self.stat_assist_epochs
            phase_epochs = self.stat_assist_epochs if fp else int(epochs)
            batches, steps = self._batches(data, epoch)
            if steps:
                phase_steps = steps * phase_epochs
                warmup_steps = min(phase_steps, round(self.lr_warmup_epochs * steps))
            if progress and tqdm is not None and self.rank == 0:
                bar = tqdm(total=steps, desc=f"epoch {epoch + 1}/{total}", leave=False)
            started = time.perf_counter()
            loss_sum, correct, seen, done, lr = 0.0, 0, 0, 0, self.lr
            for step, (inputs, targets) in enumerate(batches):
                if len(inputs) != self.batch_size:
                    continue
                if steps:
                    lr = _native.learning_rate_at((epoch - phase_start) * steps + done,
                                                  phase_steps, warmup_steps, self.lr)
                self._global_step = epoch * steps + done if steps else self._global_step
                loss = self.step(inputs, targets, lr)
                if not self.returns_loss:
                    labels = _as_numpy(targets, "targets")
                    correct += int((self.last_logits().argmax(axis=1) == labels).sum())
                loss_sum += loss
                seen += self.batch_size
                done += 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss_sum / done:.4f}")
            if bar is not None:
                bar.close()
            if done == 0:
                raise ValueError(f"no batch of {self.batch_size} images in the data")
            correct = self._session.sum_over_ranks(correct)
            seen *= self.ranks
            seconds = time.perf_counter() - started
            record = {"epoch": epoch + 1, "phase": phase, "learning_rate": lr,
                      "loss": loss_sum / done, "images_per_second": seen / seconds,
                      "seconds": seconds}
            if not self.returns_loss:
                record["accuracy"] = 100.0 * correct / seen
            if validation_data is not None:
                evaluation = self.evaluate(*validation_data)
                if self.returns_loss:
                    record["val_loss"] = evaluation["loss"]
                else:
                    record["val_accuracy"] = evaluation["accuracy"]
            self.history.append(record)
            self.epoch = epoch + 1
            if self.check_replicas:
                divergence = self._session.replica_divergence()
                if divergence:
                    raise QatError(f"after epoch {epoch + 1}: {divergence}")
            if checkpoint is not None:
                self.save(checkpoint)
        return self.history

    @property
    def module(self):
        """The trained module (a copy, with the current state and
        normalization): what compile and save take."""
        module = Module(self._session.checkpoint(self.epoch))
        if self._normalization is not None:
            module._native.set_normalization(*self._normalization)
        return module

    def state_dict(self):
        """The training state as torch tensors, by name: the model's
        parameters and buffers under their PyTorch names, observer ranges,
        and the optimizer's and GradBoost's state."""
        import torch
        return {name: torch.from_numpy(array) for name, array in self._session.state().items()}

    def set_state(self, state):
        """Replaces training state entries by name (the names of
        state_dict) with NumPy arrays or torch tensors of the entries'
        shapes and dtypes: two Trainers share a network this way
        (qat_mlir.gan.Pix2PixTrainer's discriminator)."""
        for name, value in state.items():
            array = value.detach().cpu().numpy() if hasattr(value, "detach") else value
            self._session.set_state(name, np.ascontiguousarray(array))

    def save(self, path):
        """Saves the module with the current state (atomically); Trainer.load
        resumes from it. When distributed, only rank 0 writes."""
        if self.rank == 0:
            self.module.save(path)

    @classmethod
    def load(cls, path, **options):
        """A Trainer that resumes the module saved at `path`."""
        return cls(Module.load(path), **options)


class CompiledModel:
    """A module compiled for a CPU target: call it on images (any number:
    they run in batches of the compiled batch), or save it as an object,
    library, header or classifier program."""

    def __init__(self, native, normalization, channels):
        self._native = native
        self._normalization = normalization
        self._channels = channels

    @property
    def input_shape(self):
        return tuple(self._native.input_shape)

    @property
    def output_shape(self):
        return tuple(self._native.output_shape)

    @property
    def quantized(self):
        return self._native.quantized

    @property
    def float_ops(self):
        """Ops that compute in float between quantized values."""
        return self._native.float_ops

    @property
    def target(self):
        return self._native.target

    @property
    def loaded_from_cache(self):
        return self._native.loaded_from_cache

    @property
    def compile_seconds(self):
        return self._native.compile_seconds

    def __call__(self, inputs):
        images = _with_channels(_normalized(inputs, self._normalization, "inputs"),
                                self._channels)
        batch = self.input_shape[0]
        if images.shape[1:] != self.input_shape[1:] or images.shape[0] == 0:
            raise ValueError(f"inputs must be N x {' x '.join(map(str, self.input_shape[1:]))}"
                             f" images, got shape {images.shape}")
        if images.shape[0] == batch:
            return self._native(np.ascontiguousarray(images))
        outputs = []
        padded = np.zeros(self.input_shape, np.float32)
        for start in range(0, images.shape[0], batch):
            chunk = images[start:start + batch]
            padded[:] = 0
            padded[:len(chunk)] = chunk
            outputs.append(self._native(padded)[:len(chunk)])
        return np.concatenate(outputs)

    def save(self, path, emit="obj"):
        """Writes `emit` for the target: "obj", "lib" (shared library),
        "exe" (the classifier program), "header", "asm", "llvm" or "mlir";
        nothing is left at `path` on failure."""
        self._native.save(os.fspath(path), emit)


def compile(module, target="host", batch=None, float=False, strict_int8=False,
            threads=1, cache_dir=None, opt_level=3, name="model"):
    """Compiles a trained Module (or a Trainer's) for `target` (see
    targets(); "host": the best this CPU runs) as qat-compile does: int8,
    or fp32 with float=True. `batch` rebatches it. Where this CPU runs the
    target, the result is callable; compiled code is kept in cache_dir
    (default_cache_dir()) and reused by later compiles of the same model."""
    module = _module_of(module)
    options = dict(target=target, batch=batch, float=float, strict_int8=strict_int8,
                   threads=threads, opt_level=opt_level, name=name,
                   cache_dir=default_cache_dir() if cache_dir is None else cache_dir)
    native = _native.CompiledModel(module._native, options)
    channels = native.input_shape[1] if len(native.input_shape) == 4 else 0
    return CompiledModel(native, module.normalization, channels)
