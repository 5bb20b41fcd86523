// qat-run on good and bad inputs: results are right, and every bad input
// gives one clear error, exit code 1 and no output file.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/make_arrays.py %t
//
// RUN: qat-run %s --entry double --input %t/x.npy -o %t/ok.npy
// RUN: %python -c "import numpy as np; v = np.load('%t/ok.npy'); assert v.dtype == np.float32 and v.tolist() == [0, 2, 4, 6], v"
// RUN: qat-run %s --entry double --input %t/x.npy --output-dir %t/dir
// RUN: %python -c "import numpy as np; assert np.load('%t/dir/result0.npy').tolist() == [0, 2, 4, 6]"
//
// RUN: qat-run %s --entry bump --input %t/x.npy -o %t/bumped.npy --repeat 3 2>&1 | FileCheck %s --check-prefix=REPEAT
// REPEAT: qat-run: compiled in {{[0-9.]+}} s; 3 calls: median {{[0-9.]+}} s, min {{[0-9.]+}} s
// RUN: %python -c "import numpy as np; v = np.load('%t/bumped.npy'); assert v.tolist() == [1, 1, 2, 3], v"
// The compile cache: the second run links the first one's object.
// RUN: qat-run %s --entry bump --input %t/x.npy -o %t/c1.npy --repeat 3 --cache-dir %t/cache 2>&1 | FileCheck %s --check-prefix=REPEAT
// RUN: qat-run %s --entry bump --input %t/x.npy -o %t/c2.npy --repeat 2 --cache-dir %t/cache 2>&1 | FileCheck %s --check-prefix=CACHED
// CACHED: qat-run: loaded from the cache in {{[0-9.]+}} s; 2 calls
// RUN: %python -c "import numpy as np; assert np.load('%t/c2.npy').tolist() == [1, 1, 2, 3]"
// RUN: not qat-run %s --entry bump --input %t/x.npy --repeat 0 2>&1 | FileCheck %s --check-prefix=REPEAT0
// REPEAT0: qat-run: error: --repeat must be at least 1
//
// An int8 microkernel this CPU lacks is refused in one line (never an LLVM
// fatal error); QAT_HOST_FEATURES makes this CPU act as one with fewer
// features: AVX2 only, or plain x86-64.
// RUN: env QAT_HOST_FEATURES=avx,avx2,fma not qat-run %s --entry double --input %t/x.npy -o %t/isa.npy --int8-isa=avx512vnni 2>&1 | FileCheck %s --check-prefix=ISA
// ISA: errors.mlir:0:0: error: int8 isa 'avx512vnni' needs CPU features this CPU lacks; it runs 'avx2' (or 'host': its best)
// RUN: env QAT_HOST_FEATURES=sse2 not qat-run %s --entry double --input %t/x.npy -o %t/isa.npy --int8-isa=avx2 2>&1 | FileCheck %s --check-prefix=ISA-NONE
// ISA-NONE: error: int8 isa 'avx2' needs CPU features this CPU lacks; it runs none of them (or 'host': its best)
// RUN: not qat-run %s --entry double --input %t/x.npy -o %t/isa.npy --int8-isa=sse 2>&1 | FileCheck %s --check-prefix=ISA-UNKNOWN
// ISA-UNKNOWN: error: unknown int8 isa 'sse' (avx512vnni, avxvnni, avx2 or dotprod, or host)
// RUN: env QAT_HOST_FEATURES=sse2 qat-run %s --entry double --input %t/x.npy -o %t/host.npy --int8-isa=host
// RUN: not test -e %t/isa.npy
//
// RUN: not qat-run %s --entry missing --input %t/x.npy -o %t/out.npy 2>&1 | FileCheck %s --check-prefix=MISSING
// MISSING: errors.mlir:0:0: error: no function named 'missing' with a body in the module
// RUN: not qat-run %s --entry double --input %t/x.npy --input %t/x.npy -o %t/out.npy 2>&1 | FileCheck %s --check-prefix=COUNT
// COUNT: error: 'double' takes 1 arguments but 2 inputs were given
// RUN: not qat-run %s --entry double --input %t/i.npy -o %t/out.npy 2>&1 | FileCheck %s --check-prefix=DTYPE
// DTYPE: error: input 0 has dtype '<i4' but argument 0 is 'tensor<4xf32>' (dtype '<f4')
// RUN: not qat-run %s --entry double --input %t/x5.npy -o %t/out.npy 2>&1 | FileCheck %s --check-prefix=SHAPE
// SHAPE: error: input 0 has shape (5) which does not fit argument type 'tensor<4xf32>'
// RUN: not qat-run %s --entry double --input %t/truncated.npy -o %t/out.npy 2>&1 | FileCheck %s --check-prefix=TRUNCATED
// TRUNCATED: qat-run: error: {{.*}}truncated.npy: holds 8 data bytes but its header promises 16
// RUN: not qat-run %s --entry double --input %t/random.npy -o %t/out.npy 2>&1 | FileCheck %s --check-prefix=RANDOM
// RANDOM: qat-run: error: {{.*}}random.npy: not a .npy file (bad magic string)
// RUN: not qat-run %s --entry double --input %t/header.npy -o %t/out.npy 2>&1 | FileCheck %s --check-prefix=HEADER
// HEADER: qat-run: error: {{.*}}header.npy: truncated .npy header
// RUN: not qat-run %s --entry double --input %t/no-dtype.npy -o %t/out.npy 2>&1 | FileCheck %s --check-prefix=NODTYPE
// NODTYPE: qat-run: error: {{.*}}no-dtype.npy: malformed dtype in .npy header
// RUN: not qat-run %s --entry double --input %t/wrapping.npy -o %t/out.npy 2>&1 | FileCheck %s --check-prefix=WRAPPING
// WRAPPING: qat-run: error: {{.*}}wrapping.npy: shape promises more than 2^63 data bytes
// RUN: not qat-run %s --entry double --input %t/complex.npy -o %t/out.npy 2>&1 | FileCheck %s --check-prefix=COMPLEX
// COMPLEX: qat-run: error: {{.*}}complex.npy: unsupported dtype '<c8'
// RUN: not qat-run %s --entry double --input %t/fortran.npy -o %t/out.npy 2>&1 | FileCheck %s --check-prefix=FORTRAN
// FORTRAN: qat-run: error: {{.*}}fortran.npy: Fortran-ordered arrays are not supported
// RUN: not qat-run %s --entry double --input %t/absent.npy -o %t/out.npy 2>&1 | FileCheck %s --check-prefix=ABSENT
// ABSENT: qat-run: error: {{.*}}absent.npy: cannot read: No such file or directory
// RUN: not qat-run %s --entry double --input %t/x.npy -o %t/out.npy -o %t/out2.npy 2>&1 | FileCheck %s --check-prefix=OUTPUTS
// OUTPUTS: qat-run: error: 2 output files for 1 results of 'double': give one -o per result
// RUN: not qat-run %s --entry two_results --input %t/x.npy -o %t/first.npy 2>&1 | FileCheck %s --check-prefix=FEWER
// FEWER: qat-run: error: 1 output files for 2 results of 'two_results': give one -o per result
// RUN: not test -e %t/first.npy
// RUN: cp %t/x.npy %t/same.npy
// RUN: not qat-run %s --entry double --input %t/same.npy -o %t/same.npy 2>&1 | FileCheck %s --check-prefix=SAME
// SAME: qat-run: error: -o '{{.*}}same.npy' is an input; write to another file
// RUN: not qat-run %s --entry dynamic_result --input %t/x.npy -o %t/out.npy 2>&1 | FileCheck %s --check-prefix=DYNAMIC
// DYNAMIC: error: result 0 must be a statically shaped tensor of a .npy element type, got 'tensor<?xf32>'
// RUN: not qat-run %t/absent.mlir --input %t/x.npy -o %t/out.npy 2>&1 | FileCheck %s --check-prefix=NOMODULE
// NOMODULE: error: could not open input file {{.*}}absent.mlir
// RUN: not qat-run %S/Inputs/bad-syntax.mlir --input %t/x.npy -o %t/out.npy 2>&1 | FileCheck %s --check-prefix=SYNTAX
// SYNTAX: bad-syntax.mlir:5:8: error: custom op 'qat.fake_quantize' is unknown
// RUN: not qat-run %S/Inputs/bad-verifier.mlir --input %t/x.npy -o %t/out.npy 2>&1 | FileCheck %s --check-prefix=VERIFIER
// VERIFIER: bad-verifier.mlir:5:8: error: 'qat.fake_quant' op range [0, 255] does not fit storage type 'i8'
//
// No failing run left an output behind.
// RUN: test ! -e %t/out.npy && test ! -e %t/out2.npy

func.func @double(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = arith.addf %x, %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}

func.func @dynamic_result(%x: tensor<?xf32>) -> tensor<?xf32> {
  return %x : tensor<?xf32>
}

// @bump updates its argument in place; repeated calls still see the
// original input.
func.func @bump(%x: tensor<4xf32>) -> tensor<4xf32> {
  %c0 = arith.constant 0 : index
  %one = arith.constant 1.0 : f32
  %v = tensor.extract %x[%c0] : tensor<4xf32>
  %w = arith.addf %v, %one : f32
  %y = tensor.insert %w into %x[%c0] : tensor<4xf32>
  return %y : tensor<4xf32>
}

func.func @two_results(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %0 = arith.addf %x, %x : tensor<4xf32>
  return %0, %x : tensor<4xf32>, tensor<4xf32>
}
