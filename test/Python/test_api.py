"""The Python API on a data set the project did not have before: 3 x 32 x 32
colour images of six shapes (qat_mlir.datasets.synthetic_shapes), a CNN
trained from scratch with StatAssist and GradBoost, compiled to int8.

- Python's fit on arrays trains bit for bit what qat-train trains from the
  same data as an .npz (the same compiled step, order and schedule).
- The int8 code compiled in the process gives the trained model's outputs
  exactly, and so does the classifier program it saves.
- Checkpoints resume to the state of an uninterrupted run; a DataLoader
  trains; state_dict holds torch tensors under the model's names.
- Bad arrays raise ValueError naming the argument, compiler errors raise
  QatError with the diagnostic, and nothing is left behind.
"""

import os
import subprocess

import numpy as np
import pytest
import torch
from torch import nn

import qat_mlir
from qat_mlir import datasets

BATCH = 32
TRAIN_OPTIONS = dict(stat_assist_epochs=1, grad_boost=True, lr=0.05, seed=3, threads=2)


def make_model():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1, stride=2), nn.BatchNorm2d(32), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 6))


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """The data, the model as TorchScript, and a Trainer fitted for 1 FP
    warm-up epoch and 2 QAT epochs."""
    root = tmp_path_factory.mktemp("shapes")
    train = datasets.synthetic_shapes(2048, seed=1)
    test = datasets.synthetic_shapes(256, seed=2)
    path = str(root / "cnn.pt")
    torch.jit.trace(make_model().train(), torch.zeros(BATCH, 3, 32, 32),
                    check_trace=False).save(path)
    module = qat_mlir.import_module(path, (BATCH, 3, 32, 32))
    trainer = qat_mlir.Trainer(module, **TRAIN_OPTIONS)
    history = trainer.fit(train, epochs=2, validation_data=test, progress=False)
    return dict(root=root, train=train, test=test, path=path, module=module,
                trainer=trainer, history=history)


def test_trains_and_int8_equals_trained_model(shapes):
    trainer, test = shapes["trainer"], shapes["test"]
    history = shapes["history"]
    assert [h["phase"] for h in history] == ["fp_warmup", "qat", "qat"]
    assert history[-1]["val_accuracy"] >= 90.0, history
    model = qat_mlir.compile(trainer)
    assert model.quantized and model.target == qat_mlir.host_target()
    int8 = model(test[0])
    trained = trainer.predict(test[0])
    assert int8.shape == (256, 6) and int8.dtype == np.float32
    assert np.array_equal(int8, trained)
    accuracy = 100.0 * np.mean(int8.argmax(axis=1) == test[1])
    assert accuracy == pytest.approx(history[-1]["val_accuracy"])
    # Torch tensors in, and a batch that is not the compiled one.
    assert np.array_equal(model(torch.from_numpy(test[0][:5])), trained[:5])


def test_fit_equals_qat_train(shapes):
    """qat-train --data shapes.npz with the same options saves the module
    that Trainer.save writes, to the byte."""
    root, train, test = shapes["root"], shapes["train"], shapes["test"]
    np.savez(root / "shapes.npz", train_images=train[0], train_labels=train[1],
             test_images=test[0], test_labels=test[1])
    subprocess.run([qat_mlir.find_tool("qat-train"), shapes["path"], "--data",
                    str(root / "shapes.npz"), "--batch-size", str(BATCH),
                    "--qconfig", "per-tensor", "--target-exact", "--fp-warmup-epochs", "1",
                    "--grad-boost", "--epochs", "2", "--lr", "0.05", "--seed", "3",
                    "--num-threads", "2", "-o", str(root / "qat-train.mlir")],
                   check=True, capture_output=True)
    shapes["trainer"].save(root / "python.mlir")
    assert (root / "python.mlir").read_text() == (root / "qat-train.mlir").read_text()


def test_classifier_program_agrees(shapes):
    root, test = shapes["root"], shapes["test"]
    model = qat_mlir.compile(shapes["trainer"])
    exe = root / "classify"
    model.save(exe, emit="exe")
    np.save(root / "images.npy", test[0])
    np.save(root / "labels.npy", test[1])
    done = subprocess.run([str(exe), str(root / "images.npy"), str(root / "labels.npy"),
                           "--logits", str(root / "logits.bin")],
                          check=True, capture_output=True, text=True)
    assert "256 images" in done.stdout
    logits = np.fromfile(root / "logits.bin", np.float32).reshape(-1, 6)
    assert np.array_equal(logits, model(test[0]))


def test_compile_reuses_the_cache(shapes):
    qat_mlir.compile(shapes["trainer"], batch=8)
    again = qat_mlir.compile(shapes["trainer"], batch=8)
    assert again.loaded_from_cache and again.input_shape == (8, 3, 32, 32)


def test_fp32_compile(shapes):
    model = qat_mlir.compile(shapes["trainer"], float=True)
    assert not model.quantized
    outputs = model(shapes["test"][0][:BATCH])
    # The fp32 model (fake quantization removed) agrees with the int8 one
    # on most images.
    int8 = qat_mlir.compile(shapes["trainer"])(shapes["test"][0][:BATCH])
    assert np.mean(outputs.argmax(1) == int8.argmax(1)) >= 0.8


def test_checkpoint_resumes_exactly(shapes, tmp_path):
    """A run stopped after epoch 2 of 3 and resumed from its checkpoint ends
    in the state of the uninterrupted run (the fixture's)."""
    first = qat_mlir.Trainer(shapes["module"], **TRAIN_OPTIONS)
    first.fit(shapes["train"], epochs=2, progress=False, stop_after_epoch=2,
              checkpoint=tmp_path / "ck.mlir")
    assert first.epoch == 2 and qat_mlir.Module.load(tmp_path / "ck.mlir").trained_epochs == 2
    resumed = qat_mlir.Trainer.load(tmp_path / "ck.mlir", **TRAIN_OPTIONS)
    resumed.fit(shapes["train"], epochs=2, progress=False)
    assert resumed.epoch == 3
    expected = shapes["trainer"].state_dict()
    for name, value in resumed.state_dict().items():
        assert torch.equal(value, expected[name]), name


def test_state_dict_and_dataloader(shapes):
    # Batches of uint8 tensors: normalized with the given mean and std.
    trainer = qat_mlir.Trainer(shapes["module"], input_mean=0.3, input_std=0.2,
                               **TRAIN_OPTIONS)
    state = trainer.state_dict()
    for name, value in make_model().state_dict().items():
        if name.endswith("num_batches_tracked"):
            continue
        assert isinstance(state[name], torch.Tensor) and state[name].shape == value.shape, name
    images = torch.from_numpy(datasets.synthetic_shapes(320, seed=1)[0])
    labels = torch.from_numpy(datasets.synthetic_shapes(320, seed=1)[1])
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels),
                                         batch_size=BATCH, shuffle=True, drop_last=True)
    history = trainer.fit(loader, epochs=1, progress=True)
    assert len(history) == 2 and all(np.isfinite(h["loss"]) for h in history)
    assert history[1]["phase"] == "qat"
    assert trainer.module.normalization == pytest.approx((0.3, 0.2))


def test_bad_arrays_raise_value_error(shapes):
    trainer = shapes["trainer"]
    images, labels = shapes["test"][0][:BATCH], shapes["test"][1][:BATCH]
    model = qat_mlir.compile(trainer)
    with pytest.raises(ValueError, match="inputs must be float32 .* or uint8, got float64"):
        model(images.astype(np.float64))
    with pytest.raises(ValueError, match=r"inputs must be N x 3 x 32 x 32 images, got shape \(32, 3, 16, 16\)"):
        model(images[:, :, :16, :16])
    with pytest.raises(ValueError, match=r"inputs must be a float32 array of shape \(32, 3, 32, 32\), got shape \(32, 3, 32\)"):
        trainer.step(images[:, :, :, 0], labels)
    with pytest.raises(ValueError, match=r"inputs must be a float32 array of shape \(32, 3, 32, 32\), got shape \(16, 3, 32, 32\)"):
        trainer.step(images[:16], labels[:16])
    with pytest.raises(ValueError, match="inputs must be C-contiguous"):
        trainer.step(np.asfortranarray(datasets.normalize(images)), labels)
    with pytest.raises(ValueError, match=r"targets\[0\] is 6 but the model has 6 classes"):
        trainer.step(images, np.full(BATCH, 6))
    with pytest.raises(ValueError, match="targets must be a int64 array"):
        trainer.step(images, labels.astype(np.float32))
    with pytest.raises(ValueError, match="targets must be a NumPy array or a torch tensor, got list"):
        trainer.step(images, list(labels))


def test_compiler_errors_raise_qat_error(shapes, tmp_path):
    with pytest.raises(qat_mlir.QatError, match="cannot read the TorchScript archive|not a zip|zip"):
        (tmp_path / "bad.pt").write_bytes(b"not a model")
        qat_mlir.import_module(str(tmp_path / "bad.pt"), (BATCH, 3, 32, 32))
    with pytest.raises(qat_mlir.QatError, match=r"<string>:1:\d+: error"):
        qat_mlir.Module.parse("func.func @f( {")
    with pytest.raises(ValueError, match="unknown target 'z80'"):
        qat_mlir.compile(shapes["trainer"], target="z80")
    with pytest.raises(ValueError, match="unknown training option 'grad_bost'"):
        qat_mlir.api._native.TrainingSession(shapes["module"]._native, {"grad_bost": True})
    with pytest.raises(qat_mlir.QatError, match="the learning rate must be positive"):
        qat_mlir.Trainer(shapes["module"], lr=-1.0)
    # An fp32 module (never prepared) has no integer form.
    fp32 = qat_mlir.import_module(shapes["path"], (BATCH, 3, 32, 32), mode="eval")
    with pytest.raises(qat_mlir.QatError, match="quantizes nothing"):
        qat_mlir.compile(fp32)


def test_cross_target_saves_but_does_not_run(shapes, tmp_path):
    model = qat_mlir.compile(shapes["trainer"], target="aarch64-dotprod")
    with pytest.raises(qat_mlir.QatError, match="cannot run code for target 'aarch64-dotprod'"):
        model(shapes["test"][0][:BATCH])
    model.save(tmp_path / "model.o", emit="obj")
    assert (tmp_path / "model.o").read_bytes()[:4] == b"\x7fELF"
    with pytest.raises(qat_mlir.QatError):
        model.save(tmp_path / "missing-dir" / "model.o", emit="obj")
    assert not (tmp_path / "missing-dir").exists()
    with pytest.raises(ValueError, match="unknown emit kind 'elf'"):
        model.save(tmp_path / "x", emit="elf")
    assert sorted(os.listdir(tmp_path)) == ["model.o"]


def test_installed_package_imports(tmp_path):
    """`cmake --install` puts the package and the extension together; the
    installed copy works without the build tree on its path."""
    build = os.environ["QAT_MLIR_BUILD_DIR"]
    subprocess.run(["cmake", "--install", build, "--prefix", "/usr/local"], check=True,
                   capture_output=True, env=dict(os.environ, DESTDIR=str(tmp_path)))
    site = tmp_path / "usr/local/lib/python3/dist-packages"
    done = subprocess.run(
        ["/usr/bin/python3", "-c", "import qat_mlir; print(qat_mlir.api._native.__file__, "
         "qat_mlir.host_target() in [t[0] for t in qat_mlir.targets()])"],
        capture_output=True, text=True, cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(site), QAT_MLIR_BUILD_DIR=str(tmp_path / "none")))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(str(site / "qat_mlir" / "_qat_mlir")) and "True" in done.stdout


def test_threads_share_a_trainer_and_a_model(shapes):
    """Calls release the GIL; a Trainer or model used from several threads
    serves one call at a time and gives each caller its own results."""
    import threading
    mean, std = shapes["trainer"].module.normalization
    trainer = qat_mlir.Trainer(shapes["module"], input_mean=mean, input_std=std,
                               **TRAIN_OPTIONS)
    model = qat_mlir.compile(shapes["trainer"])
    images, labels = shapes["test"][0][:BATCH], shapes["test"][1][:BATCH]
    expected = model(images)
    failures = []

    def work(seed):
        try:
            for _ in range(10):
                trainer.step(images, labels)
                assert np.array_equal(model(images), expected)
        except Exception as error:  # reported below
            failures.append(error)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert trainer.state_dict()["1.num_batches_tracked"].item() == 1 + 30


def test_eval_module_is_refused(shapes):
    module = qat_mlir.import_module(shapes["path"], (BATCH, 3, 32, 32), mode="eval")
    with pytest.raises(ValueError, match="mode='train'"):
        qat_mlir.Trainer(module)


class DecoderNet(nn.Module):
    """Nearest upsampling between convolutions, with LeakyReLU and clamp
    (issue 27's decoder ops, `decoder=True`) or ReLUs."""

    def __init__(self, decoder):
        super().__init__()
        self.decoder = decoder
        self.c1, self.b1 = nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8)
        self.c2, self.b2 = nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 6)

    def forward(self, x):
        x = self.b1(self.c1(x))
        x = nn.functional.leaky_relu(x, 0.1) if self.decoder else nn.functional.relu(x)
        x = nn.functional.interpolate(x, scale_factor=2, mode="nearest")
        x = self.b2(self.c2(x))
        x = torch.clamp(x, 0.0, 4.0) if self.decoder else nn.functional.relu(x)
        return self.fc(nn.functional.adaptive_avg_pool2d(x, 1).flatten(1))


def trained(shapes, decoder):
    torch.manual_seed(0)
    module = qat_mlir.import_module(DecoderNet(decoder), torch.zeros(BATCH, 3, 32, 32))
    trainer = qat_mlir.Trainer(module, **TRAIN_OPTIONS)
    trainer.fit((shapes["train"][0][:512], shapes["train"][1][:512]), epochs=1, progress=False)
    return trainer


def test_decoder_ops_deploy_as_float_islands(shapes):
    """LeakyReLU and clamp have no integer form yet: the deployed model
    computes them in float between quantized values (a remark counts them),
    and still gives the trained model's outputs exactly."""
    trainer = trained(shapes, decoder=True)
    with pytest.warns(UserWarning, match=r"ops compute in float between quantized values \("):
        model = qat_mlir.compile(trainer)
    assert model.quantized and model.float_ops >= 5
    images = shapes["test"][0]
    assert np.array_equal(model(images), trainer.predict(images))
    with pytest.raises(qat_mlir.QatError, match="strict-int8|float"):
        qat_mlir.compile(trainer, strict_int8=True)


def test_nearest_upsampling_is_integer(shapes):
    """Nearest upsampling repeats codes (tosa.tile): the deployed model is
    integer throughout and equals the trained model."""
    trainer = trained(shapes, decoder=False)
    model = qat_mlir.compile(trainer, strict_int8=True)
    assert model.quantized and model.float_ops == 0
    images = shapes["test"][0]
    assert np.array_equal(model(images), trainer.predict(images))


def test_warnings_as_errors(shapes):
    """A warning filter that raises turns the compiler's remark into an
    exception, and the model is not returned half made."""
    import warnings
    trainer = trained(shapes, decoder=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="ops compute in float"):
            qat_mlir.compile(trainer)


def test_qadam_trains_and_deploys(shapes, tmp_path):
    """optimizer="adam" with grad_boost is the method's QAdam: it trains the
    shapes CNN from scratch through StatAssist, Adam counts every step of
    both phases, and the int8 code equals the trained model."""
    options = dict(TRAIN_OPTIONS, optimizer="adam", lr=2e-3, betas=(0.9, 0.99))
    trainer = qat_mlir.Trainer(shapes["module"], **options)
    history = trainer.fit(shapes["train"], epochs=1, validation_data=shapes["test"],
                          progress=False)
    assert [h["phase"] for h in history] == ["fp_warmup", "qat"]
    assert history[-1]["val_accuracy"] >= 80.0, history
    trainer.save(tmp_path / "qadam.mlir")
    text = (tmp_path / "qadam.mlir").read_text()
    steps = 2 * len(shapes["train"][0]) // BATCH
    assert f"@adam.step(dense<{steps}>" in text and "sgd.momentum" not in text
    model = qat_mlir.compile(trainer)
    test = shapes["test"][0]
    assert np.array_equal(model(test), trainer.predict(test))
    with pytest.raises(ValueError, match="optimizer 'rmsprop' is not supported"):
        qat_mlir.Trainer(shapes["module"], optimizer="rmsprop")
    with pytest.raises(qat_mlir.QatError, match=r"Adam's beta2 must be in \[0, 1\), not 1"):
        qat_mlir.Trainer(shapes["module"], optimizer="adam", betas=(0.9, 1.0))
