//===- QatMlirModule.cpp - the qat_mlir._qat_mlir Python extension --------===//
//
// Part of qat-mlir. The project's C++ libraries in the Python process:
// modules (import, parse, print, save), training sessions (one compiled
// step per call) and compiled models (numpy in, numpy out; saved as
// objects, libraries or programs). python/qat_mlir/api.py builds the
// public API on these; this file only converts arguments, checks arrays
// and turns diagnostics into exceptions.
//
// MLIR's own Python bindings are not used: they expose the IR, while users
// of this package need none of it, and they would add a second copy of
// the dialect registrations to the process.
//
//===----------------------------------------------------------------------===//

#include "qat/Codegen/CPU/Targets.h"
#include "qat/Compiler/Compiler.h"
#include "qat/ExecutionEngine/JitRunner.h"
#include "qat/Import/Torch/TorchImporter.h"
#include "qat/InitAll.h"
#include "qat/Support/AtomicFile.h"
#include "qat/Support/InputChecks.h"
#include "qat/Training/Dataset.h"
#include "qat/Training/Trainer.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Triple.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace py = pybind11;
using namespace mlir;

namespace {

/// An error the compiler diagnosed; Python sees qat_mlir.QatError, a
/// RuntimeError, with the diagnostics as the tools print them.
struct CompilerError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Collects the diagnostics of one call, in the tools' format (with the
/// source line for parsed text).
class Diagnostics {
public:
  explicit Diagnostics(MLIRContext *context)
      : stream(text), handler(sourceMgr, context, stream) {}

  llvm::SourceMgr sourceMgr;

  /// Throws CompilerError with what was diagnosed (or `fallback`).
  [[noreturn]] void fail(const std::string &fallback = "") {
    stream.flush();
    std::string message = text.empty() ? fallback : text;
    while (!message.empty() && message.back() == '\n')
      message.pop_back();
    throw CompilerError(message.empty() ? "qat-mlir failed" : message);
  }

  /// Warnings and remarks of a successful call, as a Python warning.
  void warnIfAny() {
    stream.flush();
    // A warning filter may turn it into an exception (python -W error).
    if (!text.empty() && PyErr_WarnEx(PyExc_UserWarning, text.c_str(), 2) < 0)
      throw py::error_already_set();
  }

private:
  std::string text;
  llvm::raw_string_ostream stream;
  SourceMgrDiagnosticHandler handler;
};

/// Locks `mutex` with the GIL released, so that a thread holding it can
/// take the GIL back when its compiled call returns. A session's and a
/// compiled model's buffers serve one call at a time.
std::unique_lock<std::mutex> lockWithoutGil(std::mutex &mutex) {
  std::unique_lock<std::mutex> lock(mutex, std::defer_lock);
  py::gil_scoped_release release;
  lock.lock();
  return lock;
}

std::shared_ptr<MLIRContext> makeContext() {
  DialectRegistry registry;
  qat::registerAllDialects(registry);
  auto context = std::make_shared<MLIRContext>(registry);
  context->printOpOnDiagnostic(false);
  context->loadAllAvailableDialects();
  return context;
}

/// An MLIR module and the context that owns it (shared with the sessions
/// and compiled models made from it).
struct Module {
  std::shared_ptr<MLIRContext> context;
  OwningOpRef<ModuleOp> op;

  std::string text() {
    std::string result;
    llvm::raw_string_ostream os(result);
    op->print(os);
    return result;
  }
};

Module cloneOf(Module &module) {
  return Module{module.context, module.op->clone()};
}

//===----------------------------------------------------------------------===//
// Arrays
//===----------------------------------------------------------------------===//

std::string shapeText(llvm::ArrayRef<int64_t> shape) {
  std::string text = "(";
  for (auto [index, size] : llvm::enumerate(shape))
    text += (index ? ", " : "") + std::to_string(size);
  return text + (shape.size() == 1 ? ",)" : ")");
}

/// `array` as argument `name` must be: exactly `dtype` (no silent casts),
/// C-contiguous, of `shape`. Raises ValueError naming the argument.
const void *checkedData(const py::array &array, const char *name,
                        const py::dtype &dtype, llvm::ArrayRef<int64_t> shape) {
  std::vector<int64_t> actual(array.shape(), array.shape() + array.ndim());
  std::string expected =
      std::string(py::str(dtype)) + " array of shape " + shapeText(shape);
  if (!array.dtype().is(dtype) && !array.dtype().equal(dtype))
    throw py::value_error(std::string(name) + " must be a " + expected +
                          ", got dtype " + std::string(py::str(array.dtype())));
  if (actual != std::vector<int64_t>(shape.begin(), shape.end()))
    throw py::value_error(std::string(name) + " must be a " + expected +
                          ", got shape " + shapeText(actual));
  if (!(array.flags() & py::array::c_style))
    throw py::value_error(std::string(name) +
                          " must be C-contiguous (numpy.ascontiguousarray)");
  return array.data();
}

py::dtype dtypeOf(qat::NpyElementType type) {
  switch (type) {
  case qat::NpyElementType::Float32:
    return py::dtype::of<float>();
  case qat::NpyElementType::Float64:
    return py::dtype::of<double>();
  case qat::NpyElementType::Int8:
    return py::dtype::of<int8_t>();
  case qat::NpyElementType::UInt8:
    return py::dtype::of<uint8_t>();
  case qat::NpyElementType::Int32:
    return py::dtype::of<int32_t>();
  case qat::NpyElementType::Int64:
    return py::dtype::of<int64_t>();
  default:
    break;
  }
  return py::dtype(qat::npyDescr(type).str());
}

/// `array` as a numpy array that owns its storage: no copy.
py::array toNumpy(qat::NpyArray &&array) {
  auto *owned = new qat::NpyArray(std::move(array));
  py::capsule owner(owned, [](void *pointer) {
    delete static_cast<qat::NpyArray *>(pointer);
  });
  std::vector<py::ssize_t> shape(owned->shape.begin(), owned->shape.end());
  return py::array(dtypeOf(owned->elementType), shape, owned->data.data(),
                   owner);
}

py::array copyToNumpy(const float *data, std::vector<int64_t> shape) {
  qat::NpyArray array =
      qat::NpyArray::zeros(qat::NpyElementType::Float32, std::move(shape));
  std::memcpy(array.data.data(), data, array.data.size());
  return toNumpy(std::move(array));
}

//===----------------------------------------------------------------------===//
// Options from keyword dictionaries
//===----------------------------------------------------------------------===//

/// Reads the entries of a dict of options, each once, and rejects the
/// names nobody read.
class OptionReader {
public:
  OptionReader(py::dict dict, const char *what) : dict(dict), what(what) {}

  template <typename T> void read(const char *key, T &value) {
    seen.push_back(key);
    if (!dict.contains(key) || dict[key].is_none())
      return;
    try {
      value = dict[key].cast<T>();
    } catch (const py::cast_error &) {
      throw py::type_error(std::string(what) + " option '" + key +
                           "' has the wrong type: " +
                           std::string(py::str(py::type::of(dict[key]))));
    }
  }

  void rejectUnknown() {
    for (auto item : dict) {
      std::string key = py::str(item.first);
      if (llvm::find(seen, key) == seen.end())
        throw py::value_error("unknown " + std::string(what) + " option '" +
                              key + "'");
    }
  }

private:
  py::dict dict;
  const char *what;
  std::vector<std::string> seen;
};

std::vector<std::string> runtimeLibraries(unsigned threads) {
  std::vector<std::string> libraries = {QAT_C_RUNNER_UTILS};
  if (threads > 1)
    libraries.push_back(QAT_OPENMP_RUNTIME);
  return libraries;
}

//===----------------------------------------------------------------------===//
// Training
//===----------------------------------------------------------------------===//

const char *phaseName(qat::TrainPhase phase) {
  switch (phase) {
  case qat::TrainPhase::FpWarmup:
    return "fp_warmup";
  case qat::TrainPhase::Qat:
    return "qat";
  case qat::TrainPhase::QatFrozenBatchNorm:
    return "qat_frozen_bn";
  }
  return "";
}

qat::TrainPhase phaseNamed(const std::string &name) {
  for (auto phase : {qat::TrainPhase::FpWarmup, qat::TrainPhase::Qat,
                     qat::TrainPhase::QatFrozenBatchNorm})
    if (name == phaseName(phase))
      return phase;
  throw py::value_error("unknown phase '" + name +
                        "' (fp_warmup, qat or qat_frozen_bn)");
}

/// The MPI world, joined on first use and kept for the process (MPI is
/// initialized once; mpi4py may have done it already).
qat::Communicator &worldCommunicator() {
  static llvm::Expected<std::unique_ptr<qat::Communicator>> world =
      qat::createMpiCommunicator();
  if (!world) {
    static std::string message = llvm::toString(world.takeError());
    throw CompilerError("distributed training: " + message);
  }
  return **world;
}

/// A training session on its own copy of the module.
struct Session {
  Module module;
  std::unique_ptr<qat::TrainingSession> session;
  std::mutex busy;

  Session(Module &source, py::dict options) : module(cloneOf(source)) {
    qat::TrainOptions train;
    OptionReader reader(options, "training");
    reader.read("qconfig", train.qconfigWeights);
    reader.read("qconfig_activations", train.qconfigActivations);
    reader.read("target_exact", train.targetExact);
    reader.read("stat_assist_epochs", train.fpWarmupEpochs);
    reader.read("inherit_observers", train.inheritObservers);
    reader.read("freeze_bn_after_epochs", train.freezeBatchNormAfterEpochs);
    reader.read("epochs", train.epochs);
    reader.read("lr", train.learningRate);
    reader.read("optimizer", train.optimizer);
    reader.read("momentum", train.momentum);
    reader.read("adam_beta1", train.adamBeta1);
    reader.read("adam_beta2", train.adamBeta2);
    reader.read("adam_epsilon", train.adamEpsilon);
    reader.read("nesterov", train.nesterov);
    reader.read("weight_decay_depthwise", train.weightDecayDepthwise);
    reader.read("weight_decay_conv", train.weightDecayConv);
    reader.read("weight_decay_other", train.weightDecayOther);
    reader.read("grad_boost", train.gradBoost);
    reader.read("grad_boost_variant", train.gradBoostVariant);
    reader.read("grad_boost_beta", train.gradBoostBeta);
    reader.read("grad_boost_decay", train.gradBoostDecay);
    reader.read("grad_boost_clip", train.gradBoostClip);
    reader.read("grad_boost_coin_probability", train.gradBoostCoinProbability);
    reader.read("seed", train.seed);
    reader.read("threads", train.threads);
    reader.read("opt_level", train.optLevel);
    reader.read("cache_dir", train.cacheDir);
    bool distributed = false;
    reader.read("distributed", distributed);
    reader.read("sync_batch_norm", train.syncBatchNorm);
    reader.rejectUnknown();
    if (train.syncBatchNorm && !distributed)
      throw py::value_error("sync_batch_norm goes with distributed=True");
    if (distributed)
      train.communicator = &worldCommunicator();
    if (train.threads < 1)
      throw py::value_error("threads must be at least 1");
    if (train.optLevel > 3)
      throw py::value_error("opt_level must be 0, 1, 2 or 3");
    train.sharedLibs = runtimeLibraries(train.threads);
    Diagnostics diagnostics(module.context.get());
    FailureOr<std::unique_ptr<qat::TrainingSession>> created = failure();
    {
      py::gil_scoped_release release;
      created = qat::TrainingSession::create(*module.op, train);
    }
    if (failed(created))
      diagnostics.fail("cannot build the training step");
    session = std::move(*created);
  }

  /// TrainingSession's collectives, which wait for the other ranks: the
  /// GIL is released meanwhile.
  double meanOverRanks(double value) {
    py::gil_scoped_release release;
    return session->meanOverRanks(static_cast<float>(value));
  }
  int64_t sumOverRanks(int64_t count) {
    py::gil_scoped_release release;
    return session->sumOverRanks(count);
  }
  std::string replicaDivergence() {
    py::gil_scoped_release release;
    return session->replicaDivergence();
  }

  std::vector<int64_t> imageShape() const {
    llvm::ArrayRef<int64_t> shape = session->inputShape();
    return {shape.begin(), shape.end()};
  }

  /// A model that returns its loss: its targets (one array, or a tuple of
  /// one per target input) into the session's buffers; None (predict
  /// only) fills them with zeros, which its outputs do not depend on.
  void loadTargets(const py::object &targets) {
    size_t count = session->targetNames().size();
    std::vector<py::array> arrays;
    if (targets.is_none()) {
      for (size_t i = 0; i < count; ++i)
        std::fill(session->target(i).data.begin(),
                  session->target(i).data.end(), 0);
      return;
    }
    auto asArray = [](py::handle item) {
      py::array array = py::array::ensure(item);
      if (!array)
        throw py::value_error("targets must be NumPy arrays");
      return array;
    };
    if (py::isinstance<py::tuple>(targets))
      for (py::handle item : targets)
        arrays.push_back(asArray(item));
    else
      arrays.push_back(asArray(targets));
    if (arrays.size() != count)
      throw py::value_error("the model takes " + std::to_string(count) +
                            " target input(s), got " +
                            std::to_string(arrays.size()));
    for (size_t i = 0; i < count; ++i) {
      qat::NpyArray &buffer = session->target(i);
      std::string name = "targets '" + session->targetNames()[i] + "'";
      const void *data = checkedData(arrays[i], name.c_str(),
                                     dtypeOf(buffer.elementType), buffer.shape);
      std::memcpy(buffer.data.data(), data, buffer.data.size());
    }
  }

  void loadBatch(const py::array &images, const py::object *targets) {
    const void *imageData =
        checkedData(images, "inputs", py::dtype::of<float>(), imageShape());
    std::memcpy(session->images().data(), imageData,
                session->images().size() * sizeof(float));
    if (session->returnsLoss()) {
      loadTargets(targets ? *targets : py::none());
      return;
    }
    if (targets && !targets->is_none()) {
      py::array labelArray = py::array::ensure(*targets);
      if (!labelArray)
        throw py::value_error("targets must be a NumPy array");
      const py::array *labels = &labelArray;
      const void *labelData = checkedData(
          *labels, "targets", py::dtype::of<int64_t>(), {session->batchSize()});
      auto *values = static_cast<const int64_t *>(labelData);
      for (int64_t row = 0; row < session->batchSize(); ++row)
        if (values[row] < 0 || values[row] >= session->numClasses())
          throw py::value_error(
              "targets[" + std::to_string(row) + "] is " +
              std::to_string(values[row]) + " but the model has " +
              std::to_string(session->numClasses()) + " classes");
      std::memcpy(session->labels().data(), labelData,
                  session->labels().size() * sizeof(int64_t));
    }
  }

  /// The evaluation outputs (logits, or the first non-loss output of a
  /// model that returns its loss) as an array of their shape.
  py::array outputArray(llvm::ArrayRef<float> values) {
    llvm::ArrayRef<int64_t> shape = session->outputShape();
    return copyToNumpy(values.data(), {shape.begin(), shape.end()});
  }

  float step(const py::array &images, const py::object &labels,
             double learningRate, const std::string &phaseText,
             int64_t globalStep) {
    qat::TrainPhase phase = phaseNamed(phaseText);
    if (!(learningRate > 0) || !std::isfinite(learningRate))
      throw py::value_error("the learning rate must be positive and finite");
    if (labels.is_none())
      throw py::value_error("a step needs its targets");
    auto lock = lockWithoutGil(busy);
    loadBatch(images, &labels);
    Diagnostics diagnostics(module.context.get());
    FailureOr<float> loss = failure();
    {
      py::gil_scoped_release release;
      loss = session->step(phase, learningRate, globalStep);
    }
    if (failed(loss))
      diagnostics.fail();
    return *loss;
  }

  py::array logits() {
    auto lock = lockWithoutGil(busy);
    llvm::ArrayRef<float> values = session->logits();
    if (values.empty())
      throw py::value_error("no step has run yet");
    return outputArray(values);
  }

  py::array predict(const py::array &images, bool fpWarmup,
                    const py::object &targets) {
    auto lock = lockWithoutGil(busy);
    loadBatch(images, &targets);
    Diagnostics diagnostics(module.context.get());
    FailureOr<llvm::ArrayRef<float>> values = failure();
    {
      py::gil_scoped_release release;
      values = session->predict(fpWarmup);
    }
    if (failed(values))
      diagnostics.fail();
    if (values->empty())
      throw py::value_error("the model returns only its loss: it has no "
                            "outputs to predict (return (loss, outputs))");
    return outputArray(*values);
  }

  py::dict state() {
    auto lock = lockWithoutGil(busy);
    py::dict result;
    for (auto &entry : session->state()) {
      qat::NpyArray copy = entry.getValue();
      result[py::str(entry.getKey().str())] = toNumpy(std::move(copy));
    }
    return result;
  }

  void setState(const std::string &name, const py::array &value) {
    auto lock = lockWithoutGil(busy);
    auto it = session->state().find(name);
    if (it == session->state().end())
      throw py::key_error("no training state is named '" + name + "'");
    py::dtype dtype = dtypeOf(it->getValue().elementType);
    if (std::string(py::str(value.dtype())) != std::string(py::str(dtype)))
      throw py::value_error("state '" + name + "' holds " +
                            std::string(py::str(dtype)) + ", not " +
                            std::string(py::str(value.dtype())));
    qat::NpyArray array;
    array.elementType = it->getValue().elementType;
    array.shape.assign(value.shape(), value.shape() + value.ndim());
    py::array contiguous =
        py::array::ensure(value, py::array::c_style | py::array::forcecast);
    const char *bytes = static_cast<const char *>(contiguous.data());
    array.data.assign(bytes, bytes + contiguous.nbytes());
    Diagnostics diagnostics(module.context.get());
    if (failed(session->setState(name, array)))
      diagnostics.fail();
  }

  Module checkpoint(int64_t epochsDone) {
    auto lock = lockWithoutGil(busy);
    session->storeState(epochsDone);
    return Module{module.context, session->checkpoint()};
  }
};

//===----------------------------------------------------------------------===//
// Compiled models
//===----------------------------------------------------------------------===//

struct CompiledModel {
  std::shared_ptr<MLIRContext> context;
  /// The deployable module, not lowered (save() lowers a copy).
  OwningOpRef<ModuleOp> deployed;
  qat::ModelInterface interface;
  const qat::CpuTarget *target = nullptr;
  std::string name = "model";
  float inputMean = 0, inputStd = 1;
  unsigned optLevel = 3;
  /// The JIT-compiled function, where this CPU runs the target; else why not.
  std::unique_ptr<qat::JitModule> jit;
  std::string notRunnable;
  std::vector<qat::NpyArray> arguments, results;
  std::mutex busy;

  CompiledModel(Module &source, py::dict options) : context(source.context) {
    qat::DeployOptions deploy;
    std::string targetName = "host", cacheDir;
    unsigned threads = 1;
    bool floatModel = false;
    std::optional<std::pair<float, float>> normalization =
        qat::recordedNormalization(*source.op);
    float mean = normalization ? normalization->first : qat::kFashionMnistMean;
    float std = normalization ? normalization->second : qat::kFashionMnistStd;
    OptionReader reader(options, "compile");
    reader.read("target", targetName);
    reader.read("batch", deploy.batch);
    reader.read("float", floatModel);
    reader.read("strict_int8", deploy.strictInt8);
    reader.read("function", deploy.function);
    reader.read("name", deploy.name);
    reader.read("threads", threads);
    reader.read("opt_level", optLevel);
    reader.read("cache_dir", cacheDir);
    reader.read("input_mean", mean);
    reader.read("input_std", std);
    reader.rejectUnknown();
    deploy.keepFloat = floatModel;
    name = deploy.name;
    inputMean = mean;
    inputStd = std;
    target = qat::lookupCpuTarget(targetName);
    if (!target)
      throw py::value_error("unknown target '" + targetName +
                            "' (qat_mlir.targets() lists them)");
    if (threads < 1 || optLevel > 3)
      throw py::value_error("threads must be at least 1 and opt_level 0-3");
    if (deploy.batch && *deploy.batch < 1)
      throw py::value_error("batch must be at least 1");
    if (!std::isfinite(mean) || !std::isfinite(std) || !(std > 0))
      throw py::value_error("input_mean must be finite and input_std finite "
                            "and positive");

    Diagnostics diagnostics(context.get());
    OwningOpRef<ModuleOp> copy = source.op->clone();
    qat::JitOptions constants;
    constants.sharedLibs = runtimeLibraries(1);
    constants.cacheDir = cacheDir;
    bool compiled = false;
    {
      py::gil_scoped_release release;
      auto model = qat::deployModule(*copy, deploy, constants);
      if (succeeded(model)) {
        deployed = std::move(model->module);
        interface = model->interface;
        compiled = succeeded(compileForHost(threads, cacheDir));
      }
    }
    if (!compiled)
      diagnostics.fail("cannot compile the model");
    diagnostics.warnIfAny();
  }

  /// JIT-compiles a copy for calls from Python, where this CPU runs the
  /// target's code.
  LogicalResult compileForHost(unsigned threads, const std::string &cacheDir) {
    bool sameArch = llvm::Triple(target->triple).getArch() ==
                    llvm::Triple(qat::hostCpuTarget().triple).getArch();
    std::string missing = qat::missingHostFeature(*target);
    if (!sameArch || !missing.empty()) {
      notRunnable = "this CPU cannot run code for target '" + target->name +
                    "'" + (sameArch ? " (it lacks " + missing + ")" : "") +
                    ": save() it instead";
      return success();
    }
    qat::JitOptions options;
    options.sharedLibs = runtimeLibraries(threads);
    options.threads = threads;
    options.optLevel = optLevel;
    options.int8Isa = target->int8Isa;
    options.cacheDir = cacheDir;
    OwningOpRef<ModuleOp> lowered = deployed->clone();
    auto compiled = qat::JitModule::compile(*lowered, {name}, options);
    if (failed(compiled))
      return failure();
    jit = std::move(*compiled);
    return success();
  }

  py::array call(const py::array &input) {
    if (!jit)
      throw CompilerError(notRunnable);
    const void *data = checkedData(input, "inputs", py::dtype::of<float>(),
                                   interface.inputShape);
    auto lock = lockWithoutGil(busy);
    // A copy: compiled code may overwrite its argument buffers.
    arguments.resize(1);
    if (arguments[0].shape != interface.inputShape)
      arguments[0] = qat::NpyArray::zeros(qat::NpyElementType::Float32,
                                          interface.inputShape);
    std::memcpy(arguments[0].data.data(), data, arguments[0].data.size());
    Diagnostics diagnostics(context.get());
    LogicalResult called = failure();
    {
      py::gil_scoped_release release;
      called = jit->call(name, arguments, results);
    }
    if (failed(called))
      diagnostics.fail();
    return toNumpy(std::move(results[0]));
  }

  void save(const std::string &path, const std::string &kindName) {
    static const std::pair<const char *, qat::EmitKind> kinds[] = {
        {"mlir", qat::EmitKind::MLIR},     {"llvm", qat::EmitKind::LLVM},
        {"asm", qat::EmitKind::Asm},       {"obj", qat::EmitKind::Obj},
        {"header", qat::EmitKind::Header}, {"lib", qat::EmitKind::Lib},
        {"exe", qat::EmitKind::Exe}};
    auto kind = llvm::find_if(
        kinds, [&](const auto &entry) { return kindName == entry.first; });
    if (kind == std::end(kinds))
      throw py::value_error("unknown emit kind '" + kindName +
                            "' (mlir, llvm, asm, obj, header, lib or exe)");
    qat::EmitOptions options;
    options.kind = kind->second;
    options.target = target;
    options.name = name;
    options.optLevel = optLevel;
    options.inputMean = inputMean;
    options.inputStd = inputStd;
    options.clang = QAT_CLANG;
    options.runtimeSource = QAT_CLASSIFIER_SOURCE;
    options.cpuCheckSource = QAT_CPU_CHECK_SOURCE;
    Diagnostics diagnostics(context.get());
    OwningOpRef<ModuleOp> copy = deployed->clone();
    LogicalResult written = failure();
    {
      py::gil_scoped_release release;
      written = qat::emit(*copy, interface, options, path);
    }
    if (failed(written))
      diagnostics.fail("cannot write " + path);
  }
};

} // namespace

PYBIND11_MODULE(_qat_mlir, m) {
  m.doc() = "qat-mlir's C++ libraries (use the qat_mlir package)";
  py::register_exception<CompilerError>(m, "QatError", PyExc_RuntimeError);
  qat::keepFreedMemoryInProcess();

  py::class_<Module>(m, "Module")
      .def("__str__", &Module::text)
      .def("clone", &cloneOf)
      .def(
          "save",
          [](Module &self, const std::string &path) {
            std::string text = self.text();
            if (llvm::Error error = qat::writeFileAtomically(
                    path, [&](llvm::raw_pwrite_stream &os) {
                      os << text;
                      return llvm::Error::success();
                    }))
              throw CompilerError("cannot write " + path + ": " +
                                  llvm::toString(std::move(error)));
          },
          py::arg("path"))
      .def_property_readonly("functions",
                             [](Module &self) {
                               std::vector<std::string> names;
                               for (auto func : self.op->getOps<func::FuncOp>())
                                 names.push_back(func.getSymName().str());
                               return names;
                             })
      .def_property_readonly(
          "normalization",
          [](Module &self) { return qat::recordedNormalization(*self.op); })
      .def(
          "set_normalization",
          [](Module &self, float mean, float std) {
            Builder builder(self.context.get());
            self.op->getOperation()->setAttr(qat::kInputMeanAttr,
                                             builder.getF32FloatAttr(mean));
            self.op->getOperation()->setAttr(qat::kInputStdAttr,
                                             builder.getF32FloatAttr(std));
          },
          py::arg("mean"), py::arg("std"))
      .def_property_readonly("trained_epochs", [](Module &self) -> int64_t {
        auto done = self.op->getOperation()->getAttrOfType<IntegerAttr>(
            "qat.trained_epochs");
        return done ? done.getInt() : 0;
      });

  m.def(
      "import_torchscript",
      [](const std::string &path, std::vector<std::vector<int64_t>> inputShapes,
         bool training, std::vector<std::string> inputTypes) {
        Module module{makeContext(), nullptr};
        Diagnostics diagnostics(module.context.get());
        qat::TorchImportOptions options;
        options.inputShapes = std::move(inputShapes);
        options.inputTypes = std::move(inputTypes);
        options.trainingMode = training;
        {
          py::gil_scoped_release release;
          module.op =
              qat::importTorchScript(module.context.get(), path, options);
        }
        if (!module.op)
          diagnostics.fail("cannot import " + path);
        return module;
      },
      py::arg("path"), py::arg("input_shapes"), py::arg("training"),
      py::arg("input_types") = std::vector<std::string>{});

  m.def(
      "parse_module",
      [](const std::string &text, const std::string &name) {
        Module module{makeContext(), nullptr};
        Diagnostics diagnostics(module.context.get());
        module.op = qat::parseCheckedModule(
            llvm::MemoryBuffer::getMemBufferCopy(text, name),
            diagnostics.sourceMgr, module.context.get());
        if (!module.op)
          diagnostics.fail("cannot parse " + name);
        return module;
      },
      py::arg("text"), py::arg("name") = "<string>");

  m.def(
      "load_module",
      [](const std::string &path) {
        Module module{makeContext(), nullptr};
        Diagnostics diagnostics(module.context.get());
        module.op = qat::parseCheckedModule(path, diagnostics.sourceMgr,
                                            module.context.get());
        if (!module.op)
          diagnostics.fail("cannot read " + path);
        return module;
      },
      py::arg("path"));

  m.def("targets", [] {
    std::vector<std::tuple<std::string, std::string, bool>> result;
    const qat::CpuTarget &host = qat::hostCpuTarget();
    for (const qat::CpuTarget &target : qat::cpuTargets()) {
      bool runs = llvm::Triple(target.triple).getArch() ==
                      llvm::Triple(host.triple).getArch() &&
                  qat::missingHostFeature(target).empty();
      result.emplace_back(target.name, target.description, runs);
    }
    return result;
  });
  m.def("host_target", [] { return qat::hostCpuTarget().name; });

  m.def(
      "image_statistics",
      [](const py::array &images) {
        // qat-train's normalization from data (ImageDataset::statistics),
        // with its summation order, so that both give the same bits.
        qat::ImageDataset data;
        data.count = 1;
        data.channels = 1;
        data.height = 1;
        data.width = images.size();
        data.pixels.resize(images.size());
        checkedData(images, "images", py::dtype::of<uint8_t>(),
                    std::vector<int64_t>(images.shape(),
                                         images.shape() + images.ndim()));
        std::memcpy(data.pixels.data(), images.data(), images.size());
        return data.statistics();
      },
      py::arg("images"));
  m.def("learning_rate_at", &qat::learningRateAt, py::arg("step"),
        py::arg("total"), py::arg("warmup"), py::arg("peak"));
  m.def(
      "epoch_order",
      [](uint64_t seed, int64_t epoch, int64_t count) {
        std::vector<int64_t> order = qat::epochOrder(seed, epoch, count);
        qat::NpyArray array =
            qat::NpyArray::zeros(qat::NpyElementType::Int64, {count});
        std::memcpy(array.data.data(), order.data(), array.data.size());
        return toNumpy(std::move(array));
      },
      py::arg("seed"), py::arg("epoch"), py::arg("count"));

  py::class_<Session>(m, "TrainingSession")
      .def(py::init<Module &, py::dict>(), py::arg("module"),
           py::arg("options"))
      .def_property_readonly("image_shape", &Session::imageShape)
      .def_property_readonly(
          "batch_size", [](Session &self) { return self.session->batchSize(); })
      .def_property_readonly(
          "num_classes",
          [](Session &self) { return self.session->numClasses(); })
      .def_property_readonly(
          "epochs_done",
          [](Session &self) { return self.session->epochsDone(); })
      .def_property_readonly(
          "compile_seconds",
          [](Session &self) { return self.session->compileSeconds(); })
      .def_property_readonly(
          "loaded_from_cache",
          [](Session &self) { return self.session->loadedFromCache(); })
      .def("phase_of",
           [](Session &self, int64_t epoch) {
             return std::string(phaseName(self.session->phaseOf(epoch)));
           })
      .def("step", &Session::step, py::arg("inputs"), py::arg("targets"),
           py::arg("lr"), py::arg("phase"), py::arg("global_step"))
      .def("logits", &Session::logits)
      .def("predict", &Session::predict, py::arg("images"),
           py::arg("fp_warmup") = false, py::arg("targets") = py::none())
      .def_property_readonly(
          "returns_loss",
          [](Session &self) { return self.session->returnsLoss(); })
      .def_property_readonly(
          "target_names",
          [](Session &self) {
            llvm::ArrayRef<std::string> names = self.session->targetNames();
            return std::vector<std::string>(names.begin(), names.end());
          })
      .def_property_readonly(
          "last_loss", [](Session &self) { return self.session->lastLoss(); })
      .def_property_readonly(
          "target_dtypes",
          [](Session &self) {
            std::vector<py::dtype> dtypes;
            for (size_t i = 0; i < self.session->targetNames().size(); ++i)
              dtypes.push_back(dtypeOf(self.session->target(i).elementType));
            return dtypes;
          })
      .def("state", &Session::state)
      .def("set_state", &Session::setState, py::arg("name"), py::arg("value"))
      .def(
          "first_non_finite_parameter",
          [](Session &self) { return self.session->firstNonFiniteParameter(); })
      .def("checkpoint", &Session::checkpoint, py::arg("epochs_done"))
      .def_property_readonly("rank",
                             [](Session &self) { return self.session->rank(); })
      .def_property_readonly(
          "ranks", [](Session &self) { return self.session->ranks(); })
      .def("mean_over_ranks", &Session::meanOverRanks, py::arg("value"))
      .def("sum_over_ranks", &Session::sumOverRanks, py::arg("count"))
      .def("replica_divergence", &Session::replicaDivergence);

  py::class_<CompiledModel>(m, "CompiledModel")
      .def(py::init<Module &, py::dict>(), py::arg("module"),
           py::arg("options"))
      .def("__call__", &CompiledModel::call, py::arg("input"))
      .def("save", &CompiledModel::save, py::arg("path"), py::arg("emit"))
      .def_property_readonly(
          "input_shape",
          [](CompiledModel &self) { return self.interface.inputShape; })
      .def_property_readonly(
          "output_shape",
          [](CompiledModel &self) { return self.interface.outputShape; })
      .def_property_readonly(
          "quantized",
          [](CompiledModel &self) { return self.interface.quantized; })
      .def_property_readonly(
          "float_ops",
          [](CompiledModel &self) { return self.interface.floatOps; })
      .def_property_readonly(
          "target", [](CompiledModel &self) { return self.target->name; })
      .def_property_readonly("runnable",
                             [](CompiledModel &self) { return bool(self.jit); })
      .def_property_readonly("compile_seconds",
                             [](CompiledModel &self) {
                               return self.jit ? self.jit->compileSeconds()
                                               : 0.0;
                             })
      .def_property_readonly("loaded_from_cache", [](CompiledModel &self) {
        return self.jit && self.jit->loadedFromCache();
      });
}
