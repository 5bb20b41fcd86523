// RUN: qat-opt --qat-deduplicate-kernels %s | FileCheck %s

// Private functions with the same body and attributes become one; the
// calls of the others go to the first. Locations do not count; a constant,
// a type, an attribute of the function, or a use other than a call does.

// CHECK-LABEL: func.func private @scale_a(
// CHECK-NOT:   func.func private @scale_b(
// CHECK-LABEL: func.func private @scale_c(
func.func private @scale_a(%x: memref<8xf32>, %y: memref<8xf32>) attributes {passthrough = ["noinline"]} {
  %c = arith.constant 2.0 : f32
  linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>],
                  iterator_types = ["parallel"]}
      ins(%x : memref<8xf32>) outs(%y : memref<8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.mulf %in, %c : f32
    linalg.yield %m : f32
  }
  return
}
// The same as @scale_a, at other locations.
func.func private @scale_b(%x: memref<8xf32>, %y: memref<8xf32>) attributes {passthrough = ["noinline"]} {
  %c = arith.constant 2.0 : f32 loc("elsewhere.py":3:1)
  linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>],
                  iterator_types = ["parallel"]}
      ins(%x : memref<8xf32>) outs(%y : memref<8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.mulf %in, %c : f32 loc("elsewhere.py":4:1)
    linalg.yield %m : f32
  }
  return
}
// Another constant.
func.func private @scale_c(%x: memref<8xf32>, %y: memref<8xf32>) attributes {passthrough = ["noinline"]} {
  %c = arith.constant 3.0 : f32
  linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>],
                  iterator_types = ["parallel"]}
      ins(%x : memref<8xf32>) outs(%y : memref<8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.mulf %in, %c : f32
    linalg.yield %m : f32
  }
  return
}

// Same body, other shapes / other function attributes / a use that is not
// a call / public: each stays.
// CHECK-LABEL: func.func private @copy_8(
// CHECK-LABEL: func.func private @copy_16(
// CHECK-LABEL: func.func private @copy_8_inlinable(
// CHECK-LABEL: func.func private @copy_8_referenced(
// CHECK-LABEL: func.func @copy_8_public(
// CHECK-NOT:   func.func private @copy_8_twin(
func.func private @copy_8(%x: memref<8xf32>, %y: memref<8xf32>) attributes {passthrough = ["noinline"]} {
  memref.copy %x, %y : memref<8xf32> to memref<8xf32>
  return
}
func.func private @copy_16(%x: memref<16xf32>, %y: memref<16xf32>) attributes {passthrough = ["noinline"]} {
  memref.copy %x, %y : memref<16xf32> to memref<16xf32>
  return
}
func.func private @copy_8_inlinable(%x: memref<8xf32>, %y: memref<8xf32>) {
  memref.copy %x, %y : memref<8xf32> to memref<8xf32>
  return
}
func.func private @copy_8_referenced(%x: memref<8xf32>, %y: memref<8xf32>) attributes {passthrough = ["noinline"]} {
  memref.copy %x, %y : memref<8xf32> to memref<8xf32>
  return
}
func.func @copy_8_public(%x: memref<8xf32>, %y: memref<8xf32>) attributes {passthrough = ["noinline"]} {
  memref.copy %x, %y : memref<8xf32> to memref<8xf32>
  return
}
func.func private @copy_8_twin(%x: memref<8xf32>, %y: memref<8xf32>) attributes {passthrough = ["noinline"]} {
  memref.copy %x, %y : memref<8xf32> to memref<8xf32>
  return
}

// CHECK-LABEL: func.func @step(
// CHECK:         call @scale_a(
// CHECK-NEXT:    call @scale_a(
// CHECK-NEXT:    call @scale_c(
// CHECK-NEXT:    call @copy_8(
// CHECK-NEXT:    call @copy_16(
// CHECK-NEXT:    call @copy_8_inlinable(
// CHECK-NEXT:    call @copy_8_referenced(
// CHECK-NEXT:    call @copy_8_public(
// CHECK-NEXT:    call @copy_8(
// CHECK-NEXT:    constant @copy_8_referenced
func.func @step(%a: memref<8xf32>, %b: memref<8xf32>, %c: memref<16xf32>, %d: memref<16xf32>) -> ((memref<8xf32>, memref<8xf32>) -> ()) {
  call @scale_a(%a, %b) : (memref<8xf32>, memref<8xf32>) -> ()
  call @scale_b(%a, %b) : (memref<8xf32>, memref<8xf32>) -> ()
  call @scale_c(%a, %b) : (memref<8xf32>, memref<8xf32>) -> ()
  call @copy_8(%a, %b) : (memref<8xf32>, memref<8xf32>) -> ()
  call @copy_16(%c, %d) : (memref<16xf32>, memref<16xf32>) -> ()
  call @copy_8_inlinable(%a, %b) : (memref<8xf32>, memref<8xf32>) -> ()
  call @copy_8_referenced(%a, %b) : (memref<8xf32>, memref<8xf32>) -> ()
  call @copy_8_public(%a, %b) : (memref<8xf32>, memref<8xf32>) -> ()
  call @copy_8_twin(%a, %b) : (memref<8xf32>, memref<8xf32>) -> ()
  %f = func.constant @copy_8_referenced : (memref<8xf32>, memref<8xf32>) -> ()
  return %f : (memref<8xf32>, memref<8xf32>) -> ()
}
