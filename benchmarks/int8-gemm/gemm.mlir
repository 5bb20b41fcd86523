// The int8 GEMM of the benchmark, 1024 x 1024 x 1024: C = A * B with A
// (activations) packed at run time into 8 x 4 tiles and B (weights)
// packed beforehand into 16 x 4 tiles, as qat-compile packs constant
// weights; linalg.mmt4d, then C unpacked. --qat-lower-to-llvm with
// int8-isa=avx512vnni turns the mmt4d into the vpdpbusd microkernel.
func.func @gemm(%a: tensor<1024x1024xi8>, %bp: tensor<64x256x16x4xi8>) -> tensor<1024x1024xi32> attributes {llvm.emit_c_interface} {
  %ea = tensor.empty() : tensor<128x256x8x4xi8>
  %pa = linalg.pack %a inner_dims_pos = [0, 1] inner_tiles = [8, 4] into %ea : tensor<1024x1024xi8> -> tensor<128x256x8x4xi8>
  %z32 = arith.constant 0 : i32
  %ec = tensor.empty() : tensor<128x64x8x16xi32>
  %c = linalg.fill ins(%z32 : i32) outs(%ec : tensor<128x64x8x16xi32>) -> tensor<128x64x8x16xi32>
  %r = linalg.mmt4d ins(%pa, %bp : tensor<128x256x8x4xi8>, tensor<64x256x16x4xi8>) outs(%c : tensor<128x64x8x16xi32>) -> tensor<128x64x8x16xi32>
  %eo = tensor.empty() : tensor<1024x1024xi32>
  %o = linalg.unpack %r inner_dims_pos = [0, 1] inner_tiles = [8, 16] into %eo : tensor<128x64x8x16xi32> -> tensor<1024x1024xi32>
  return %o : tensor<1024x1024xi32>
}
