// Opcode tables of the WebAssembly specification and the proposals wazero 1.12
// accepts (SIMD, threads, exception handling incl. the legacy encoding, tail
// calls, typed function references). Each entry: text name, immediates,
// proposal.

package wasm

// Opcodes. A prefixed opcode is prefix<<8 | sub-opcode (e.g. OpMemoryCopy = 0xFC0A).
const (
	OpUnreachable               Opcode = 0x0000   // unreachable
	OpNop                       Opcode = 0x0001   // nop
	OpBlock                     Opcode = 0x0002   // block
	OpLoop                      Opcode = 0x0003   // loop
	OpIf                        Opcode = 0x0004   // if
	OpElse                      Opcode = 0x0005   // else
	OpTry                       Opcode = 0x0006   // try
	OpCatch                     Opcode = 0x0007   // catch
	OpThrow                     Opcode = 0x0008   // throw
	OpRethrow                   Opcode = 0x0009   // rethrow
	OpThrowRef                  Opcode = 0x000a   // throw_ref
	OpEnd                       Opcode = 0x000b   // end
	OpBr                        Opcode = 0x000c   // br
	OpBrIf                      Opcode = 0x000d   // br_if
	OpBrTable                   Opcode = 0x000e   // br_table
	OpReturn                    Opcode = 0x000f   // return
	OpCall                      Opcode = 0x0010   // call
	OpCallIndirect              Opcode = 0x0011   // call_indirect
	OpReturnCall                Opcode = 0x0012   // return_call
	OpReturnCallIndirect        Opcode = 0x0013   // return_call_indirect
	OpCallRef                   Opcode = 0x0014   // call_ref
	OpReturnCallRef             Opcode = 0x0015   // return_call_ref
	OpDelegate                  Opcode = 0x0018   // delegate
	OpCatchAll                  Opcode = 0x0019   // catch_all
	OpDrop                      Opcode = 0x001a   // drop
	OpSelect                    Opcode = 0x001b   // select
	OpSelectT                   Opcode = 0x001c   // select
	OpTryTable                  Opcode = 0x001f   // try_table
	OpLocalGet                  Opcode = 0x0020   // local.get
	OpLocalSet                  Opcode = 0x0021   // local.set
	OpLocalTee                  Opcode = 0x0022   // local.tee
	OpGlobalGet                 Opcode = 0x0023   // global.get
	OpGlobalSet                 Opcode = 0x0024   // global.set
	OpTableGet                  Opcode = 0x0025   // table.get
	OpTableSet                  Opcode = 0x0026   // table.set
	OpI32Load                   Opcode = 0x0028   // i32.load
	OpI64Load                   Opcode = 0x0029   // i64.load
	OpF32Load                   Opcode = 0x002a   // f32.load
	OpF64Load                   Opcode = 0x002b   // f64.load
	OpI32Load8S                 Opcode = 0x002c   // i32.load8_s
	OpI32Load8U                 Opcode = 0x002d   // i32.load8_u
	OpI32Load16S                Opcode = 0x002e   // i32.load16_s
	OpI32Load16U                Opcode = 0x002f   // i32.load16_u
	OpI64Load8S                 Opcode = 0x0030   // i64.load8_s
	OpI64Load8U                 Opcode = 0x0031   // i64.load8_u
	OpI64Load16S                Opcode = 0x0032   // i64.load16_s
	OpI64Load16U                Opcode = 0x0033   // i64.load16_u
	OpI64Load32S                Opcode = 0x0034   // i64.load32_s
	OpI64Load32U                Opcode = 0x0035   // i64.load32_u
	OpI32Store                  Opcode = 0x0036   // i32.store
	OpI64Store                  Opcode = 0x0037   // i64.store
	OpF32Store                  Opcode = 0x0038   // f32.store
	OpF64Store                  Opcode = 0x0039   // f64.store
	OpI32Store8                 Opcode = 0x003a   // i32.store8
	OpI32Store16                Opcode = 0x003b   // i32.store16
	OpI64Store8                 Opcode = 0x003c   // i64.store8
	OpI64Store16                Opcode = 0x003d   // i64.store16
	OpI64Store32                Opcode = 0x003e   // i64.store32
	OpMemorySize                Opcode = 0x003f   // memory.size
	OpMemoryGrow                Opcode = 0x0040   // memory.grow
	OpI32Const                  Opcode = 0x0041   // i32.const
	OpI64Const                  Opcode = 0x0042   // i64.const
	OpF32Const                  Opcode = 0x0043   // f32.const
	OpF64Const                  Opcode = 0x0044   // f64.const
	OpI32Eqz                    Opcode = 0x0045   // i32.eqz
	OpI32Eq                     Opcode = 0x0046   // i32.eq
	OpI32Ne                     Opcode = 0x0047   // i32.ne
	OpI32LtS                    Opcode = 0x0048   // i32.lt_s
	OpI32LtU                    Opcode = 0x0049   // i32.lt_u
	OpI32GtS                    Opcode = 0x004a   // i32.gt_s
	OpI32GtU                    Opcode = 0x004b   // i32.gt_u
	OpI32LeS                    Opcode = 0x004c   // i32.le_s
	OpI32LeU                    Opcode = 0x004d   // i32.le_u
	OpI32GeS                    Opcode = 0x004e   // i32.ge_s
	OpI32GeU                    Opcode = 0x004f   // i32.ge_u
	OpI64Eqz                    Opcode = 0x0050   // i64.eqz
	OpI64Eq                     Opcode = 0x0051   // i64.eq
	OpI64Ne                     Opcode = 0x0052   // i64.ne
	OpI64LtS                    Opcode = 0x0053   // i64.lt_s
	OpI64LtU                    Opcode = 0x0054   // i64.lt_u
	OpI64GtS                    Opcode = 0x0055   // i64.gt_s
	OpI64GtU                    Opcode = 0x0056   // i64.gt_u
	OpI64LeS                    Opcode = 0x0057   // i64.le_s
	OpI64LeU                    Opcode = 0x0058   // i64.le_u
	OpI64GeS                    Opcode = 0x0059   // i64.ge_s
	OpI64GeU                    Opcode = 0x005a   // i64.ge_u
	OpF32Eq                     Opcode = 0x005b   // f32.eq
	OpF32Ne                     Opcode = 0x005c   // f32.ne
	OpF32Lt                     Opcode = 0x005d   // f32.lt
	OpF32Gt                     Opcode = 0x005e   // f32.gt
	OpF32Le                     Opcode = 0x005f   // f32.le
	OpF32Ge                     Opcode = 0x0060   // f32.ge
	OpF64Eq                     Opcode = 0x0061   // f64.eq
	OpF64Ne                     Opcode = 0x0062   // f64.ne
	OpF64Lt                     Opcode = 0x0063   // f64.lt
	OpF64Gt                     Opcode = 0x0064   // f64.gt
	OpF64Le                     Opcode = 0x0065   // f64.le
	OpF64Ge                     Opcode = 0x0066   // f64.ge
	OpI32Clz                    Opcode = 0x0067   // i32.clz
	OpI32Ctz                    Opcode = 0x0068   // i32.ctz
	OpI32Popcnt                 Opcode = 0x0069   // i32.popcnt
	OpI32Add                    Opcode = 0x006a   // i32.add
	OpI32Sub                    Opcode = 0x006b   // i32.sub
	OpI32Mul                    Opcode = 0x006c   // i32.mul
	OpI32DivS                   Opcode = 0x006d   // i32.div_s
	OpI32DivU                   Opcode = 0x006e   // i32.div_u
	OpI32RemS                   Opcode = 0x006f   // i32.rem_s
	OpI32RemU                   Opcode = 0x0070   // i32.rem_u
	OpI32And                    Opcode = 0x0071   // i32.and
	OpI32Or                     Opcode = 0x0072   // i32.or
	OpI32Xor                    Opcode = 0x0073   // i32.xor
	OpI32Shl                    Opcode = 0x0074   // i32.shl
	OpI32ShrS                   Opcode = 0x0075   // i32.shr_s
	OpI32ShrU                   Opcode = 0x0076   // i32.shr_u
	OpI32Rotl                   Opcode = 0x0077   // i32.rotl
	OpI32Rotr                   Opcode = 0x0078   // i32.rotr
	OpI64Clz                    Opcode = 0x0079   // i64.clz
	OpI64Ctz                    Opcode = 0x007a   // i64.ctz
	OpI64Popcnt                 Opcode = 0x007b   // i64.popcnt
	OpI64Add                    Opcode = 0x007c   // i64.add
	OpI64Sub                    Opcode = 0x007d   // i64.sub
	OpI64Mul                    Opcode = 0x007e   // i64.mul
	OpI64DivS                   Opcode = 0x007f   // i64.div_s
	OpI64DivU                   Opcode = 0x0080   // i64.div_u
	OpI64RemS                   Opcode = 0x0081   // i64.rem_s
	OpI64RemU                   Opcode = 0x0082   // i64.rem_u
	OpI64And                    Opcode = 0x0083   // i64.and
	OpI64Or                     Opcode = 0x0084   // i64.or
	OpI64Xor                    Opcode = 0x0085   // i64.xor
	OpI64Shl                    Opcode = 0x0086   // i64.shl
	OpI64ShrS                   Opcode = 0x0087   // i64.shr_s
	OpI64ShrU                   Opcode = 0x0088   // i64.shr_u
	OpI64Rotl                   Opcode = 0x0089   // i64.rotl
	OpI64Rotr                   Opcode = 0x008a   // i64.rotr
	OpF32Abs                    Opcode = 0x008b   // f32.abs
	OpF32Neg                    Opcode = 0x008c   // f32.neg
	OpF32Ceil                   Opcode = 0x008d   // f32.ceil
	OpF32Floor                  Opcode = 0x008e   // f32.floor
	OpF32Trunc                  Opcode = 0x008f   // f32.trunc
	OpF32Nearest                Opcode = 0x0090   // f32.nearest
	OpF32Sqrt                   Opcode = 0x0091   // f32.sqrt
	OpF32Add                    Opcode = 0x0092   // f32.add
	OpF32Sub                    Opcode = 0x0093   // f32.sub
	OpF32Mul                    Opcode = 0x0094   // f32.mul
	OpF32Div                    Opcode = 0x0095   // f32.div
	OpF32Min                    Opcode = 0x0096   // f32.min
	OpF32Max                    Opcode = 0x0097   // f32.max
	OpF32Copysign               Opcode = 0x0098   // f32.copysign
	OpF64Abs                    Opcode = 0x0099   // f64.abs
	OpF64Neg                    Opcode = 0x009a   // f64.neg
	OpF64Ceil                   Opcode = 0x009b   // f64.ceil
	OpF64Floor                  Opcode = 0x009c   // f64.floor
	OpF64Trunc                  Opcode = 0x009d   // f64.trunc
	OpF64Nearest                Opcode = 0x009e   // f64.nearest
	OpF64Sqrt                   Opcode = 0x009f   // f64.sqrt
	OpF64Add                    Opcode = 0x00a0   // f64.add
	OpF64Sub                    Opcode = 0x00a1   // f64.sub
	OpF64Mul                    Opcode = 0x00a2   // f64.mul
	OpF64Div                    Opcode = 0x00a3   // f64.div
	OpF64Min                    Opcode = 0x00a4   // f64.min
	OpF64Max                    Opcode = 0x00a5   // f64.max
	OpF64Copysign               Opcode = 0x00a6   // f64.copysign
	OpI32WrapI64                Opcode = 0x00a7   // i32.wrap_i64
	OpI32TruncF32S              Opcode = 0x00a8   // i32.trunc_f32_s
	OpI32TruncF32U              Opcode = 0x00a9   // i32.trunc_f32_u
	OpI32TruncF64S              Opcode = 0x00aa   // i32.trunc_f64_s
	OpI32TruncF64U              Opcode = 0x00ab   // i32.trunc_f64_u
	OpI64ExtendI32S             Opcode = 0x00ac   // i64.extend_i32_s
	OpI64ExtendI32U             Opcode = 0x00ad   // i64.extend_i32_u
	OpI64TruncF32S              Opcode = 0x00ae   // i64.trunc_f32_s
	OpI64TruncF32U              Opcode = 0x00af   // i64.trunc_f32_u
	OpI64TruncF64S              Opcode = 0x00b0   // i64.trunc_f64_s
	OpI64TruncF64U              Opcode = 0x00b1   // i64.trunc_f64_u
	OpF32ConvertI32S            Opcode = 0x00b2   // f32.convert_i32_s
	OpF32ConvertI32U            Opcode = 0x00b3   // f32.convert_i32_u
	OpF32ConvertI64S            Opcode = 0x00b4   // f32.convert_i64_s
	OpF32ConvertI64U            Opcode = 0x00b5   // f32.convert_i64_u
	OpF32DemoteF64              Opcode = 0x00b6   // f32.demote_f64
	OpF64ConvertI32S            Opcode = 0x00b7   // f64.convert_i32_s
	OpF64ConvertI32U            Opcode = 0x00b8   // f64.convert_i32_u
	OpF64ConvertI64S            Opcode = 0x00b9   // f64.convert_i64_s
	OpF64ConvertI64U            Opcode = 0x00ba   // f64.convert_i64_u
	OpF64PromoteF32             Opcode = 0x00bb   // f64.promote_f32
	OpI32ReinterpretF32         Opcode = 0x00bc   // i32.reinterpret_f32
	OpI64ReinterpretF64         Opcode = 0x00bd   // i64.reinterpret_f64
	OpF32ReinterpretI32         Opcode = 0x00be   // f32.reinterpret_i32
	OpF64ReinterpretI64         Opcode = 0x00bf   // f64.reinterpret_i64
	OpI32Extend8S               Opcode = 0x00c0   // i32.extend8_s
	OpI32Extend16S              Opcode = 0x00c1   // i32.extend16_s
	OpI64Extend8S               Opcode = 0x00c2   // i64.extend8_s
	OpI64Extend16S              Opcode = 0x00c3   // i64.extend16_s
	OpI64Extend32S              Opcode = 0x00c4   // i64.extend32_s
	OpRefNull                   Opcode = 0x00d0   // ref.null
	OpRefIsNull                 Opcode = 0x00d1   // ref.is_null
	OpRefFunc                   Opcode = 0x00d2   // ref.func
	OpRefEq                     Opcode = 0x00d3   // ref.eq
	OpRefAsNonNull              Opcode = 0x00d4   // ref.as_non_null
	OpBrOnNull                  Opcode = 0x00d5   // br_on_null
	OpBrOnNonNull               Opcode = 0x00d6   // br_on_non_null
	OpI32TruncSatF32S           Opcode = 0xfc0000 // i32.trunc_sat_f32_s
	OpI32TruncSatF32U           Opcode = 0xfc0001 // i32.trunc_sat_f32_u
	OpI32TruncSatF64S           Opcode = 0xfc0002 // i32.trunc_sat_f64_s
	OpI32TruncSatF64U           Opcode = 0xfc0003 // i32.trunc_sat_f64_u
	OpI64TruncSatF32S           Opcode = 0xfc0004 // i64.trunc_sat_f32_s
	OpI64TruncSatF32U           Opcode = 0xfc0005 // i64.trunc_sat_f32_u
	OpI64TruncSatF64S           Opcode = 0xfc0006 // i64.trunc_sat_f64_s
	OpI64TruncSatF64U           Opcode = 0xfc0007 // i64.trunc_sat_f64_u
	OpMemoryInit                Opcode = 0xfc0008 // memory.init
	OpDataDrop                  Opcode = 0xfc0009 // data.drop
	OpMemoryCopy                Opcode = 0xfc000a // memory.copy
	OpMemoryFill                Opcode = 0xfc000b // memory.fill
	OpTableInit                 Opcode = 0xfc000c // table.init
	OpElemDrop                  Opcode = 0xfc000d // elem.drop
	OpTableCopy                 Opcode = 0xfc000e // table.copy
	OpTableGrow                 Opcode = 0xfc000f // table.grow
	OpTableSize                 Opcode = 0xfc0010 // table.size
	OpTableFill                 Opcode = 0xfc0011 // table.fill
	OpV128Load                  Opcode = 0xfd0000 // v128.load
	OpV128Load8x8S              Opcode = 0xfd0001 // v128.load8x8_s
	OpV128Load8x8U              Opcode = 0xfd0002 // v128.load8x8_u
	OpV128Load16x4S             Opcode = 0xfd0003 // v128.load16x4_s
	OpV128Load16x4U             Opcode = 0xfd0004 // v128.load16x4_u
	OpV128Load32x2S             Opcode = 0xfd0005 // v128.load32x2_s
	OpV128Load32x2U             Opcode = 0xfd0006 // v128.load32x2_u
	OpV128Load8Splat            Opcode = 0xfd0007 // v128.load8_splat
	OpV128Load16Splat           Opcode = 0xfd0008 // v128.load16_splat
	OpV128Load32Splat           Opcode = 0xfd0009 // v128.load32_splat
	OpV128Load64Splat           Opcode = 0xfd000a // v128.load64_splat
	OpV128Store                 Opcode = 0xfd000b // v128.store
	OpV128Const                 Opcode = 0xfd000c // v128.const
	OpI8x16Shuffle              Opcode = 0xfd000d // i8x16.shuffle
	OpI8x16Swizzle              Opcode = 0xfd000e // i8x16.swizzle
	OpI8x16Splat                Opcode = 0xfd000f // i8x16.splat
	OpI16x8Splat                Opcode = 0xfd0010 // i16x8.splat
	OpI32x4Splat                Opcode = 0xfd0011 // i32x4.splat
	OpI64x2Splat                Opcode = 0xfd0012 // i64x2.splat
	OpF32x4Splat                Opcode = 0xfd0013 // f32x4.splat
	OpF64x2Splat                Opcode = 0xfd0014 // f64x2.splat
	OpI8x16ExtractLaneS         Opcode = 0xfd0015 // i8x16.extract_lane_s
	OpI8x16ExtractLaneU         Opcode = 0xfd0016 // i8x16.extract_lane_u
	OpI8x16ReplaceLane          Opcode = 0xfd0017 // i8x16.replace_lane
	OpI16x8ExtractLaneS         Opcode = 0xfd0018 // i16x8.extract_lane_s
	OpI16x8ExtractLaneU         Opcode = 0xfd0019 // i16x8.extract_lane_u
	OpI16x8ReplaceLane          Opcode = 0xfd001a // i16x8.replace_lane
	OpI32x4ExtractLane          Opcode = 0xfd001b // i32x4.extract_lane
	OpI32x4ReplaceLane          Opcode = 0xfd001c // i32x4.replace_lane
	OpI64x2ExtractLane          Opcode = 0xfd001d // i64x2.extract_lane
	OpI64x2ReplaceLane          Opcode = 0xfd001e // i64x2.replace_lane
	OpF32x4ExtractLane          Opcode = 0xfd001f // f32x4.extract_lane
	OpF32x4ReplaceLane          Opcode = 0xfd0020 // f32x4.replace_lane
	OpF64x2ExtractLane          Opcode = 0xfd0021 // f64x2.extract_lane
	OpF64x2ReplaceLane          Opcode = 0xfd0022 // f64x2.replace_lane
	OpI8x16Eq                   Opcode = 0xfd0023 // i8x16.eq
	OpI8x16Ne                   Opcode = 0xfd0024 // i8x16.ne
	OpI8x16LtS                  Opcode = 0xfd0025 // i8x16.lt_s
	OpI8x16LtU                  Opcode = 0xfd0026 // i8x16.lt_u
	OpI8x16GtS                  Opcode = 0xfd0027 // i8x16.gt_s
	OpI8x16GtU                  Opcode = 0xfd0028 // i8x16.gt_u
	OpI8x16LeS                  Opcode = 0xfd0029 // i8x16.le_s
	OpI8x16LeU                  Opcode = 0xfd002a // i8x16.le_u
	OpI8x16GeS                  Opcode = 0xfd002b // i8x16.ge_s
	OpI8x16GeU                  Opcode = 0xfd002c // i8x16.ge_u
	OpI16x8Eq                   Opcode = 0xfd002d // i16x8.eq
	OpI16x8Ne                   Opcode = 0xfd002e // i16x8.ne
	OpI16x8LtS                  Opcode = 0xfd002f // i16x8.lt_s
	OpI16x8LtU                  Opcode = 0xfd0030 // i16x8.lt_u
	OpI16x8GtS                  Opcode = 0xfd0031 // i16x8.gt_s
	OpI16x8GtU                  Opcode = 0xfd0032 // i16x8.gt_u
	OpI16x8LeS                  Opcode = 0xfd0033 // i16x8.le_s
	OpI16x8LeU                  Opcode = 0xfd0034 // i16x8.le_u
	OpI16x8GeS                  Opcode = 0xfd0035 // i16x8.ge_s
	OpI16x8GeU                  Opcode = 0xfd0036 // i16x8.ge_u
	OpI32x4Eq                   Opcode = 0xfd0037 // i32x4.eq
	OpI32x4Ne                   Opcode = 0xfd0038 // i32x4.ne
	OpI32x4LtS                  Opcode = 0xfd0039 // i32x4.lt_s
	OpI32x4LtU                  Opcode = 0xfd003a // i32x4.lt_u
	OpI32x4GtS                  Opcode = 0xfd003b // i32x4.gt_s
	OpI32x4GtU                  Opcode = 0xfd003c // i32x4.gt_u
	OpI32x4LeS                  Opcode = 0xfd003d // i32x4.le_s
	OpI32x4LeU                  Opcode = 0xfd003e // i32x4.le_u
	OpI32x4GeS                  Opcode = 0xfd003f // i32x4.ge_s
	OpI32x4GeU                  Opcode = 0xfd0040 // i32x4.ge_u
	OpF32x4Eq                   Opcode = 0xfd0041 // f32x4.eq
	OpF32x4Ne                   Opcode = 0xfd0042 // f32x4.ne
	OpF32x4Lt                   Opcode = 0xfd0043 // f32x4.lt
	OpF32x4Gt                   Opcode = 0xfd0044 // f32x4.gt
	OpF32x4Le                   Opcode = 0xfd0045 // f32x4.le
	OpF32x4Ge                   Opcode = 0xfd0046 // f32x4.ge
	OpF64x2Eq                   Opcode = 0xfd0047 // f64x2.eq
	OpF64x2Ne                   Opcode = 0xfd0048 // f64x2.ne
	OpF64x2Lt                   Opcode = 0xfd0049 // f64x2.lt
	OpF64x2Gt                   Opcode = 0xfd004a // f64x2.gt
	OpF64x2Le                   Opcode = 0xfd004b // f64x2.le
	OpF64x2Ge                   Opcode = 0xfd004c // f64x2.ge
	OpV128Not                   Opcode = 0xfd004d // v128.not
	OpV128And                   Opcode = 0xfd004e // v128.and
	OpV128Andnot                Opcode = 0xfd004f // v128.andnot
	OpV128Or                    Opcode = 0xfd0050 // v128.or
	OpV128Xor                   Opcode = 0xfd0051 // v128.xor
	OpV128Bitselect             Opcode = 0xfd0052 // v128.bitselect
	OpV128AnyTrue               Opcode = 0xfd0053 // v128.any_true
	OpV128Load8Lane             Opcode = 0xfd0054 // v128.load8_lane
	OpV128Load16Lane            Opcode = 0xfd0055 // v128.load16_lane
	OpV128Load32Lane            Opcode = 0xfd0056 // v128.load32_lane
	OpV128Load64Lane            Opcode = 0xfd0057 // v128.load64_lane
	OpV128Store8Lane            Opcode = 0xfd0058 // v128.store8_lane
	OpV128Store16Lane           Opcode = 0xfd0059 // v128.store16_lane
	OpV128Store32Lane           Opcode = 0xfd005a // v128.store32_lane
	OpV128Store64Lane           Opcode = 0xfd005b // v128.store64_lane
	OpV128Load32Zero            Opcode = 0xfd005c // v128.load32_zero
	OpV128Load64Zero            Opcode = 0xfd005d // v128.load64_zero
	OpF32x4DemoteF64x2Zero      Opcode = 0xfd005e // f32x4.demote_f64x2_zero
	OpF64x2PromoteLowF32x4      Opcode = 0xfd005f // f64x2.promote_low_f32x4
	OpI8x16Abs                  Opcode = 0xfd0060 // i8x16.abs
	OpI8x16Neg                  Opcode = 0xfd0061 // i8x16.neg
	OpI8x16Popcnt               Opcode = 0xfd0062 // i8x16.popcnt
	OpI8x16AllTrue              Opcode = 0xfd0063 // i8x16.all_true
	OpI8x16Bitmask              Opcode = 0xfd0064 // i8x16.bitmask
	OpI8x16NarrowI16x8S         Opcode = 0xfd0065 // i8x16.narrow_i16x8_s
	OpI8x16NarrowI16x8U         Opcode = 0xfd0066 // i8x16.narrow_i16x8_u
	OpF32x4Ceil                 Opcode = 0xfd0067 // f32x4.ceil
	OpF32x4Floor                Opcode = 0xfd0068 // f32x4.floor
	OpF32x4Trunc                Opcode = 0xfd0069 // f32x4.trunc
	OpF32x4Nearest              Opcode = 0xfd006a // f32x4.nearest
	OpI8x16Shl                  Opcode = 0xfd006b // i8x16.shl
	OpI8x16ShrS                 Opcode = 0xfd006c // i8x16.shr_s
	OpI8x16ShrU                 Opcode = 0xfd006d // i8x16.shr_u
	OpI8x16Add                  Opcode = 0xfd006e // i8x16.add
	OpI8x16AddSatS              Opcode = 0xfd006f // i8x16.add_sat_s
	OpI8x16AddSatU              Opcode = 0xfd0070 // i8x16.add_sat_u
	OpI8x16Sub                  Opcode = 0xfd0071 // i8x16.sub
	OpI8x16SubSatS              Opcode = 0xfd0072 // i8x16.sub_sat_s
	OpI8x16SubSatU              Opcode = 0xfd0073 // i8x16.sub_sat_u
	OpF64x2Ceil                 Opcode = 0xfd0074 // f64x2.ceil
	OpF64x2Floor                Opcode = 0xfd0075 // f64x2.floor
	OpI8x16MinS                 Opcode = 0xfd0076 // i8x16.min_s
	OpI8x16MinU                 Opcode = 0xfd0077 // i8x16.min_u
	OpI8x16MaxS                 Opcode = 0xfd0078 // i8x16.max_s
	OpI8x16MaxU                 Opcode = 0xfd0079 // i8x16.max_u
	OpF64x2Trunc                Opcode = 0xfd007a // f64x2.trunc
	OpI8x16AvgrU                Opcode = 0xfd007b // i8x16.avgr_u
	OpI16x8ExtaddPairwiseI8x16S Opcode = 0xfd007c // i16x8.extadd_pairwise_i8x16_s
	OpI16x8ExtaddPairwiseI8x16U Opcode = 0xfd007d // i16x8.extadd_pairwise_i8x16_u
	OpI32x4ExtaddPairwiseI16x8S Opcode = 0xfd007e // i32x4.extadd_pairwise_i16x8_s
	OpI32x4ExtaddPairwiseI16x8U Opcode = 0xfd007f // i32x4.extadd_pairwise_i16x8_u
	OpI16x8Abs                  Opcode = 0xfd0080 // i16x8.abs
	OpI16x8Neg                  Opcode = 0xfd0081 // i16x8.neg
	OpI16x8Q15mulrSatS          Opcode = 0xfd0082 // i16x8.q15mulr_sat_s
	OpI16x8AllTrue              Opcode = 0xfd0083 // i16x8.all_true
	OpI16x8Bitmask              Opcode = 0xfd0084 // i16x8.bitmask
	OpI16x8NarrowI32x4S         Opcode = 0xfd0085 // i16x8.narrow_i32x4_s
	OpI16x8NarrowI32x4U         Opcode = 0xfd0086 // i16x8.narrow_i32x4_u
	OpI16x8ExtendLowI8x16S      Opcode = 0xfd0087 // i16x8.extend_low_i8x16_s
	OpI16x8ExtendHighI8x16S     Opcode = 0xfd0088 // i16x8.extend_high_i8x16_s
	OpI16x8ExtendLowI8x16U      Opcode = 0xfd0089 // i16x8.extend_low_i8x16_u
	OpI16x8ExtendHighI8x16U     Opcode = 0xfd008a // i16x8.extend_high_i8x16_u
	OpI16x8Shl                  Opcode = 0xfd008b // i16x8.shl
	OpI16x8ShrS                 Opcode = 0xfd008c // i16x8.shr_s
	OpI16x8ShrU                 Opcode = 0xfd008d // i16x8.shr_u
	OpI16x8Add                  Opcode = 0xfd008e // i16x8.add
	OpI16x8AddSatS              Opcode = 0xfd008f // i16x8.add_sat_s
	OpI16x8AddSatU              Opcode = 0xfd0090 // i16x8.add_sat_u
	OpI16x8Sub                  Opcode = 0xfd0091 // i16x8.sub
	OpI16x8SubSatS              Opcode = 0xfd0092 // i16x8.sub_sat_s
	OpI16x8SubSatU              Opcode = 0xfd0093 // i16x8.sub_sat_u
	OpF64x2Nearest              Opcode = 0xfd0094 // f64x2.nearest
	OpI16x8Mul                  Opcode = 0xfd0095 // i16x8.mul
	OpI16x8MinS                 Opcode = 0xfd0096 // i16x8.min_s
	OpI16x8MinU                 Opcode = 0xfd0097 // i16x8.min_u
	OpI16x8MaxS                 Opcode = 0xfd0098 // i16x8.max_s
	OpI16x8MaxU                 Opcode = 0xfd0099 // i16x8.max_u
	OpI16x8AvgrU                Opcode = 0xfd009b // i16x8.avgr_u
	OpI16x8ExtmulLowI8x16S      Opcode = 0xfd009c // i16x8.extmul_low_i8x16_s
	OpI16x8ExtmulHighI8x16S     Opcode = 0xfd009d // i16x8.extmul_high_i8x16_s
	OpI16x8ExtmulLowI8x16U      Opcode = 0xfd009e // i16x8.extmul_low_i8x16_u
	OpI16x8ExtmulHighI8x16U     Opcode = 0xfd009f // i16x8.extmul_high_i8x16_u
	OpI32x4Abs                  Opcode = 0xfd00a0 // i32x4.abs
	OpI32x4Neg                  Opcode = 0xfd00a1 // i32x4.neg
	OpI32x4AllTrue              Opcode = 0xfd00a3 // i32x4.all_true
	OpI32x4Bitmask              Opcode = 0xfd00a4 // i32x4.bitmask
	OpI32x4ExtendLowI16x8S      Opcode = 0xfd00a7 // i32x4.extend_low_i16x8_s
	OpI32x4ExtendHighI16x8S     Opcode = 0xfd00a8 // i32x4.extend_high_i16x8_s
	OpI32x4ExtendLowI16x8U      Opcode = 0xfd00a9 // i32x4.extend_low_i16x8_u
	OpI32x4ExtendHighI16x8U     Opcode = 0xfd00aa // i32x4.extend_high_i16x8_u
	OpI32x4Shl                  Opcode = 0xfd00ab // i32x4.shl
	OpI32x4ShrS                 Opcode = 0xfd00ac // i32x4.shr_s
	OpI32x4ShrU                 Opcode = 0xfd00ad // i32x4.shr_u
	OpI32x4Add                  Opcode = 0xfd00ae // i32x4.add
	OpI32x4Sub                  Opcode = 0xfd00b1 // i32x4.sub
	OpI32x4Mul                  Opcode = 0xfd00b5 // i32x4.mul
	OpI32x4MinS                 Opcode = 0xfd00b6 // i32x4.min_s
	OpI32x4MinU                 Opcode = 0xfd00b7 // i32x4.min_u
	OpI32x4MaxS                 Opcode = 0xfd00b8 // i32x4.max_s
	OpI32x4MaxU                 Opcode = 0xfd00b9 // i32x4.max_u
	OpI32x4DotI16x8S            Opcode = 0xfd00ba // i32x4.dot_i16x8_s
	OpI32x4ExtmulLowI16x8S      Opcode = 0xfd00bc // i32x4.extmul_low_i16x8_s
	OpI32x4ExtmulHighI16x8S     Opcode = 0xfd00bd // i32x4.extmul_high_i16x8_s
	OpI32x4ExtmulLowI16x8U      Opcode = 0xfd00be // i32x4.extmul_low_i16x8_u
	OpI32x4ExtmulHighI16x8U     Opcode = 0xfd00bf // i32x4.extmul_high_i16x8_u
	OpI64x2Abs                  Opcode = 0xfd00c0 // i64x2.abs
	OpI64x2Neg                  Opcode = 0xfd00c1 // i64x2.neg
	OpI64x2AllTrue              Opcode = 0xfd00c3 // i64x2.all_true
	OpI64x2Bitmask              Opcode = 0xfd00c4 // i64x2.bitmask
	OpI64x2ExtendLowI32x4S      Opcode = 0xfd00c7 // i64x2.extend_low_i32x4_s
	OpI64x2ExtendHighI32x4S     Opcode = 0xfd00c8 // i64x2.extend_high_i32x4_s
	OpI64x2ExtendLowI32x4U      Opcode = 0xfd00c9 // i64x2.extend_low_i32x4_u
	OpI64x2ExtendHighI32x4U     Opcode = 0xfd00ca // i64x2.extend_high_i32x4_u
	OpI64x2Shl                  Opcode = 0xfd00cb // i64x2.shl
	OpI64x2ShrS                 Opcode = 0xfd00cc // i64x2.shr_s
	OpI64x2ShrU                 Opcode = 0xfd00cd // i64x2.shr_u
	OpI64x2Add                  Opcode = 0xfd00ce // i64x2.add
	OpI64x2Sub                  Opcode = 0xfd00d1 // i64x2.sub
	OpI64x2Mul                  Opcode = 0xfd00d5 // i64x2.mul
	OpI64x2Eq                   Opcode = 0xfd00d6 // i64x2.eq
	OpI64x2Ne                   Opcode = 0xfd00d7 // i64x2.ne
	OpI64x2LtS                  Opcode = 0xfd00d8 // i64x2.lt_s
	OpI64x2GtS                  Opcode = 0xfd00d9 // i64x2.gt_s
	OpI64x2LeS                  Opcode = 0xfd00da // i64x2.le_s
	OpI64x2GeS                  Opcode = 0xfd00db // i64x2.ge_s
	OpI64x2ExtmulLowI32x4S      Opcode = 0xfd00dc // i64x2.extmul_low_i32x4_s
	OpI64x2ExtmulHighI32x4S     Opcode = 0xfd00dd // i64x2.extmul_high_i32x4_s
	OpI64x2ExtmulLowI32x4U      Opcode = 0xfd00de // i64x2.extmul_low_i32x4_u
	OpI64x2ExtmulHighI32x4U     Opcode = 0xfd00df // i64x2.extmul_high_i32x4_u
	OpF32x4Abs                  Opcode = 0xfd00e0 // f32x4.abs
	OpF32x4Neg                  Opcode = 0xfd00e1 // f32x4.neg
	OpF32x4Sqrt                 Opcode = 0xfd00e3 // f32x4.sqrt
	OpF32x4Add                  Opcode = 0xfd00e4 // f32x4.add
	OpF32x4Sub                  Opcode = 0xfd00e5 // f32x4.sub
	OpF32x4Mul                  Opcode = 0xfd00e6 // f32x4.mul
	OpF32x4Div                  Opcode = 0xfd00e7 // f32x4.div
	OpF32x4Min                  Opcode = 0xfd00e8 // f32x4.min
	OpF32x4Max                  Opcode = 0xfd00e9 // f32x4.max
	OpF32x4Pmin                 Opcode = 0xfd00ea // f32x4.pmin
	OpF32x4Pmax                 Opcode = 0xfd00eb // f32x4.pmax
	OpF64x2Abs                  Opcode = 0xfd00ec // f64x2.abs
	OpF64x2Neg                  Opcode = 0xfd00ed // f64x2.neg
	OpF64x2Sqrt                 Opcode = 0xfd00ef // f64x2.sqrt
	OpF64x2Add                  Opcode = 0xfd00f0 // f64x2.add
	OpF64x2Sub                  Opcode = 0xfd00f1 // f64x2.sub
	OpF64x2Mul                  Opcode = 0xfd00f2 // f64x2.mul
	OpF64x2Div                  Opcode = 0xfd00f3 // f64x2.div
	OpF64x2Min                  Opcode = 0xfd00f4 // f64x2.min
	OpF64x2Max                  Opcode = 0xfd00f5 // f64x2.max
	OpF64x2Pmin                 Opcode = 0xfd00f6 // f64x2.pmin
	OpF64x2Pmax                 Opcode = 0xfd00f7 // f64x2.pmax
	OpI32x4TruncSatF32x4S       Opcode = 0xfd00f8 // i32x4.trunc_sat_f32x4_s
	OpI32x4TruncSatF32x4U       Opcode = 0xfd00f9 // i32x4.trunc_sat_f32x4_u
	OpF32x4ConvertI32x4S        Opcode = 0xfd00fa // f32x4.convert_i32x4_s
	OpF32x4ConvertI32x4U        Opcode = 0xfd00fb // f32x4.convert_i32x4_u
	OpI32x4TruncSatF64x2SZero   Opcode = 0xfd00fc // i32x4.trunc_sat_f64x2_s_zero
	OpI32x4TruncSatF64x2UZero   Opcode = 0xfd00fd // i32x4.trunc_sat_f64x2_u_zero
	OpF64x2ConvertLowI32x4S     Opcode = 0xfd00fe // f64x2.convert_low_i32x4_s
	OpF64x2ConvertLowI32x4U     Opcode = 0xfd00ff // f64x2.convert_low_i32x4_u
	OpMemoryAtomicNotify        Opcode = 0xfe0000 // memory.atomic.notify
	OpMemoryAtomicWait32        Opcode = 0xfe0001 // memory.atomic.wait32
	OpMemoryAtomicWait64        Opcode = 0xfe0002 // memory.atomic.wait64
	OpAtomicFence               Opcode = 0xfe0003 // atomic.fence
	OpI32AtomicLoad             Opcode = 0xfe0010 // i32.atomic.load
	OpI64AtomicLoad             Opcode = 0xfe0011 // i64.atomic.load
	OpI32AtomicLoad8U           Opcode = 0xfe0012 // i32.atomic.load8_u
	OpI32AtomicLoad16U          Opcode = 0xfe0013 // i32.atomic.load16_u
	OpI64AtomicLoad8U           Opcode = 0xfe0014 // i64.atomic.load8_u
	OpI64AtomicLoad16U          Opcode = 0xfe0015 // i64.atomic.load16_u
	OpI64AtomicLoad32U          Opcode = 0xfe0016 // i64.atomic.load32_u
	OpI32AtomicStore            Opcode = 0xfe0017 // i32.atomic.store
	OpI64AtomicStore            Opcode = 0xfe0018 // i64.atomic.store
	OpI32AtomicStore8           Opcode = 0xfe0019 // i32.atomic.store8
	OpI32AtomicStore16          Opcode = 0xfe001a // i32.atomic.store16
	OpI64AtomicStore8           Opcode = 0xfe001b // i64.atomic.store8
	OpI64AtomicStore16          Opcode = 0xfe001c // i64.atomic.store16
	OpI64AtomicStore32          Opcode = 0xfe001d // i64.atomic.store32
	OpI32AtomicRmwAdd           Opcode = 0xfe001e // i32.atomic.rmw.add
	OpI64AtomicRmwAdd           Opcode = 0xfe001f // i64.atomic.rmw.add
	OpI32AtomicRmw8AddU         Opcode = 0xfe0020 // i32.atomic.rmw8.add_u
	OpI32AtomicRmw16AddU        Opcode = 0xfe0021 // i32.atomic.rmw16.add_u
	OpI64AtomicRmw8AddU         Opcode = 0xfe0022 // i64.atomic.rmw8.add_u
	OpI64AtomicRmw16AddU        Opcode = 0xfe0023 // i64.atomic.rmw16.add_u
	OpI64AtomicRmw32AddU        Opcode = 0xfe0024 // i64.atomic.rmw32.add_u
	OpI32AtomicRmwSub           Opcode = 0xfe0025 // i32.atomic.rmw.sub
	OpI64AtomicRmwSub           Opcode = 0xfe0026 // i64.atomic.rmw.sub
	OpI32AtomicRmw8SubU         Opcode = 0xfe0027 // i32.atomic.rmw8.sub_u
	OpI32AtomicRmw16SubU        Opcode = 0xfe0028 // i32.atomic.rmw16.sub_u
	OpI64AtomicRmw8SubU         Opcode = 0xfe0029 // i64.atomic.rmw8.sub_u
	OpI64AtomicRmw16SubU        Opcode = 0xfe002a // i64.atomic.rmw16.sub_u
	OpI64AtomicRmw32SubU        Opcode = 0xfe002b // i64.atomic.rmw32.sub_u
	OpI32AtomicRmwAnd           Opcode = 0xfe002c // i32.atomic.rmw.and
	OpI64AtomicRmwAnd           Opcode = 0xfe002d // i64.atomic.rmw.and
	OpI32AtomicRmw8AndU         Opcode = 0xfe002e // i32.atomic.rmw8.and_u
	OpI32AtomicRmw16AndU        Opcode = 0xfe002f // i32.atomic.rmw16.and_u
	OpI64AtomicRmw8AndU         Opcode = 0xfe0030 // i64.atomic.rmw8.and_u
	OpI64AtomicRmw16AndU        Opcode = 0xfe0031 // i64.atomic.rmw16.and_u
	OpI64AtomicRmw32AndU        Opcode = 0xfe0032 // i64.atomic.rmw32.and_u
	OpI32AtomicRmwOr            Opcode = 0xfe0033 // i32.atomic.rmw.or
	OpI64AtomicRmwOr            Opcode = 0xfe0034 // i64.atomic.rmw.or
	OpI32AtomicRmw8OrU          Opcode = 0xfe0035 // i32.atomic.rmw8.or_u
	OpI32AtomicRmw16OrU         Opcode = 0xfe0036 // i32.atomic.rmw16.or_u
	OpI64AtomicRmw8OrU          Opcode = 0xfe0037 // i64.atomic.rmw8.or_u
	OpI64AtomicRmw16OrU         Opcode = 0xfe0038 // i64.atomic.rmw16.or_u
	OpI64AtomicRmw32OrU         Opcode = 0xfe0039 // i64.atomic.rmw32.or_u
	OpI32AtomicRmwXor           Opcode = 0xfe003a // i32.atomic.rmw.xor
	OpI64AtomicRmwXor           Opcode = 0xfe003b // i64.atomic.rmw.xor
	OpI32AtomicRmw8XorU         Opcode = 0xfe003c // i32.atomic.rmw8.xor_u
	OpI32AtomicRmw16XorU        Opcode = 0xfe003d // i32.atomic.rmw16.xor_u
	OpI64AtomicRmw8XorU         Opcode = 0xfe003e // i64.atomic.rmw8.xor_u
	OpI64AtomicRmw16XorU        Opcode = 0xfe003f // i64.atomic.rmw16.xor_u
	OpI64AtomicRmw32XorU        Opcode = 0xfe0040 // i64.atomic.rmw32.xor_u
	OpI32AtomicRmwXchg          Opcode = 0xfe0041 // i32.atomic.rmw.xchg
	OpI64AtomicRmwXchg          Opcode = 0xfe0042 // i64.atomic.rmw.xchg
	OpI32AtomicRmw8XchgU        Opcode = 0xfe0043 // i32.atomic.rmw8.xchg_u
	OpI32AtomicRmw16XchgU       Opcode = 0xfe0044 // i32.atomic.rmw16.xchg_u
	OpI64AtomicRmw8XchgU        Opcode = 0xfe0045 // i64.atomic.rmw8.xchg_u
	OpI64AtomicRmw16XchgU       Opcode = 0xfe0046 // i64.atomic.rmw16.xchg_u
	OpI64AtomicRmw32XchgU       Opcode = 0xfe0047 // i64.atomic.rmw32.xchg_u
	OpI32AtomicRmwCmpxchg       Opcode = 0xfe0048 // i32.atomic.rmw.cmpxchg
	OpI64AtomicRmwCmpxchg       Opcode = 0xfe0049 // i64.atomic.rmw.cmpxchg
	OpI32AtomicRmw8CmpxchgU     Opcode = 0xfe004a // i32.atomic.rmw8.cmpxchg_u
	OpI32AtomicRmw16CmpxchgU    Opcode = 0xfe004b // i32.atomic.rmw16.cmpxchg_u
	OpI64AtomicRmw8CmpxchgU     Opcode = 0xfe004c // i64.atomic.rmw8.cmpxchg_u
	OpI64AtomicRmw16CmpxchgU    Opcode = 0xfe004d // i64.atomic.rmw16.cmpxchg_u
	OpI64AtomicRmw32CmpxchgU    Opcode = 0xfe004e // i64.atomic.rmw32.cmpxchg_u
)

var opsPlain = [256]opDesc{
	0x00: {"unreachable", immNone, 0},
	0x01: {"nop", immNone, 0},
	0x02: {"block", immBlock, 0},
	0x03: {"loop", immBlock, 0},
	0x04: {"if", immBlock, 0},
	0x05: {"else", immNone, 0},
	0x06: {"try", immBlock, FeatureExceptions | FeatureLegacyExceptions},
	0x07: {"catch", immTag, FeatureExceptions | FeatureLegacyExceptions},
	0x08: {"throw", immTag, FeatureExceptions},
	0x09: {"rethrow", immLabel, FeatureExceptions | FeatureLegacyExceptions},
	0x0a: {"throw_ref", immNone, FeatureExceptions},
	0x0b: {"end", immNone, 0},
	0x0c: {"br", immLabel, 0},
	0x0d: {"br_if", immLabel, 0},
	0x0e: {"br_table", immBrTable, 0},
	0x0f: {"return", immNone, 0},
	0x10: {"call", immFunc, 0},
	0x11: {"call_indirect", immCallIndirect, 0},
	0x12: {"return_call", immFunc, FeatureTailCall},
	0x13: {"return_call_indirect", immCallIndirect, FeatureTailCall},
	0x14: {"call_ref", immType, FeatureTypedFuncRefs},
	0x15: {"return_call_ref", immType, FeatureTailCall | FeatureTypedFuncRefs},
	0x18: {"delegate", immLabel, FeatureExceptions | FeatureLegacyExceptions},
	0x19: {"catch_all", immNone, FeatureExceptions | FeatureLegacyExceptions},
	0x1a: {"drop", immNone, 0},
	0x1b: {"select", immNone, 0},
	0x1c: {"select", immSelectT, FeatureReferenceTypes},
	0x1f: {"try_table", immTryTable, FeatureExceptions},
	0x20: {"local.get", immLocal, 0},
	0x21: {"local.set", immLocal, 0},
	0x22: {"local.tee", immLocal, 0},
	0x23: {"global.get", immGlobal, 0},
	0x24: {"global.set", immGlobal, 0},
	0x25: {"table.get", immTable, FeatureReferenceTypes},
	0x26: {"table.set", immTable, FeatureReferenceTypes},
	0x28: {"i32.load", immMemArg, 0},
	0x29: {"i64.load", immMemArg, 0},
	0x2a: {"f32.load", immMemArg, 0},
	0x2b: {"f64.load", immMemArg, 0},
	0x2c: {"i32.load8_s", immMemArg, 0},
	0x2d: {"i32.load8_u", immMemArg, 0},
	0x2e: {"i32.load16_s", immMemArg, 0},
	0x2f: {"i32.load16_u", immMemArg, 0},
	0x30: {"i64.load8_s", immMemArg, 0},
	0x31: {"i64.load8_u", immMemArg, 0},
	0x32: {"i64.load16_s", immMemArg, 0},
	0x33: {"i64.load16_u", immMemArg, 0},
	0x34: {"i64.load32_s", immMemArg, 0},
	0x35: {"i64.load32_u", immMemArg, 0},
	0x36: {"i32.store", immMemArg, 0},
	0x37: {"i64.store", immMemArg, 0},
	0x38: {"f32.store", immMemArg, 0},
	0x39: {"f64.store", immMemArg, 0},
	0x3a: {"i32.store8", immMemArg, 0},
	0x3b: {"i32.store16", immMemArg, 0},
	0x3c: {"i64.store8", immMemArg, 0},
	0x3d: {"i64.store16", immMemArg, 0},
	0x3e: {"i64.store32", immMemArg, 0},
	0x3f: {"memory.size", immMem, 0},
	0x40: {"memory.grow", immMem, 0},
	0x41: {"i32.const", immI32, 0},
	0x42: {"i64.const", immI64, 0},
	0x43: {"f32.const", immF32, 0},
	0x44: {"f64.const", immF64, 0},
	0x45: {"i32.eqz", immNone, 0},
	0x46: {"i32.eq", immNone, 0},
	0x47: {"i32.ne", immNone, 0},
	0x48: {"i32.lt_s", immNone, 0},
	0x49: {"i32.lt_u", immNone, 0},
	0x4a: {"i32.gt_s", immNone, 0},
	0x4b: {"i32.gt_u", immNone, 0},
	0x4c: {"i32.le_s", immNone, 0},
	0x4d: {"i32.le_u", immNone, 0},
	0x4e: {"i32.ge_s", immNone, 0},
	0x4f: {"i32.ge_u", immNone, 0},
	0x50: {"i64.eqz", immNone, 0},
	0x51: {"i64.eq", immNone, 0},
	0x52: {"i64.ne", immNone, 0},
	0x53: {"i64.lt_s", immNone, 0},
	0x54: {"i64.lt_u", immNone, 0},
	0x55: {"i64.gt_s", immNone, 0},
	0x56: {"i64.gt_u", immNone, 0},
	0x57: {"i64.le_s", immNone, 0},
	0x58: {"i64.le_u", immNone, 0},
	0x59: {"i64.ge_s", immNone, 0},
	0x5a: {"i64.ge_u", immNone, 0},
	0x5b: {"f32.eq", immNone, 0},
	0x5c: {"f32.ne", immNone, 0},
	0x5d: {"f32.lt", immNone, 0},
	0x5e: {"f32.gt", immNone, 0},
	0x5f: {"f32.le", immNone, 0},
	0x60: {"f32.ge", immNone, 0},
	0x61: {"f64.eq", immNone, 0},
	0x62: {"f64.ne", immNone, 0},
	0x63: {"f64.lt", immNone, 0},
	0x64: {"f64.gt", immNone, 0},
	0x65: {"f64.le", immNone, 0},
	0x66: {"f64.ge", immNone, 0},
	0x67: {"i32.clz", immNone, 0},
	0x68: {"i32.ctz", immNone, 0},
	0x69: {"i32.popcnt", immNone, 0},
	0x6a: {"i32.add", immNone, 0},
	0x6b: {"i32.sub", immNone, 0},
	0x6c: {"i32.mul", immNone, 0},
	0x6d: {"i32.div_s", immNone, 0},
	0x6e: {"i32.div_u", immNone, 0},
	0x6f: {"i32.rem_s", immNone, 0},
	0x70: {"i32.rem_u", immNone, 0},
	0x71: {"i32.and", immNone, 0},
	0x72: {"i32.or", immNone, 0},
	0x73: {"i32.xor", immNone, 0},
	0x74: {"i32.shl", immNone, 0},
	0x75: {"i32.shr_s", immNone, 0},
	0x76: {"i32.shr_u", immNone, 0},
	0x77: {"i32.rotl", immNone, 0},
	0x78: {"i32.rotr", immNone, 0},
	0x79: {"i64.clz", immNone, 0},
	0x7a: {"i64.ctz", immNone, 0},
	0x7b: {"i64.popcnt", immNone, 0},
	0x7c: {"i64.add", immNone, 0},
	0x7d: {"i64.sub", immNone, 0},
	0x7e: {"i64.mul", immNone, 0},
	0x7f: {"i64.div_s", immNone, 0},
	0x80: {"i64.div_u", immNone, 0},
	0x81: {"i64.rem_s", immNone, 0},
	0x82: {"i64.rem_u", immNone, 0},
	0x83: {"i64.and", immNone, 0},
	0x84: {"i64.or", immNone, 0},
	0x85: {"i64.xor", immNone, 0},
	0x86: {"i64.shl", immNone, 0},
	0x87: {"i64.shr_s", immNone, 0},
	0x88: {"i64.shr_u", immNone, 0},
	0x89: {"i64.rotl", immNone, 0},
	0x8a: {"i64.rotr", immNone, 0},
	0x8b: {"f32.abs", immNone, 0},
	0x8c: {"f32.neg", immNone, 0},
	0x8d: {"f32.ceil", immNone, 0},
	0x8e: {"f32.floor", immNone, 0},
	0x8f: {"f32.trunc", immNone, 0},
	0x90: {"f32.nearest", immNone, 0},
	0x91: {"f32.sqrt", immNone, 0},
	0x92: {"f32.add", immNone, 0},
	0x93: {"f32.sub", immNone, 0},
	0x94: {"f32.mul", immNone, 0},
	0x95: {"f32.div", immNone, 0},
	0x96: {"f32.min", immNone, 0},
	0x97: {"f32.max", immNone, 0},
	0x98: {"f32.copysign", immNone, 0},
	0x99: {"f64.abs", immNone, 0},
	0x9a: {"f64.neg", immNone, 0},
	0x9b: {"f64.ceil", immNone, 0},
	0x9c: {"f64.floor", immNone, 0},
	0x9d: {"f64.trunc", immNone, 0},
	0x9e: {"f64.nearest", immNone, 0},
	0x9f: {"f64.sqrt", immNone, 0},
	0xa0: {"f64.add", immNone, 0},
	0xa1: {"f64.sub", immNone, 0},
	0xa2: {"f64.mul", immNone, 0},
	0xa3: {"f64.div", immNone, 0},
	0xa4: {"f64.min", immNone, 0},
	0xa5: {"f64.max", immNone, 0},
	0xa6: {"f64.copysign", immNone, 0},
	0xa7: {"i32.wrap_i64", immNone, 0},
	0xa8: {"i32.trunc_f32_s", immNone, 0},
	0xa9: {"i32.trunc_f32_u", immNone, 0},
	0xaa: {"i32.trunc_f64_s", immNone, 0},
	0xab: {"i32.trunc_f64_u", immNone, 0},
	0xac: {"i64.extend_i32_s", immNone, 0},
	0xad: {"i64.extend_i32_u", immNone, 0},
	0xae: {"i64.trunc_f32_s", immNone, 0},
	0xaf: {"i64.trunc_f32_u", immNone, 0},
	0xb0: {"i64.trunc_f64_s", immNone, 0},
	0xb1: {"i64.trunc_f64_u", immNone, 0},
	0xb2: {"f32.convert_i32_s", immNone, 0},
	0xb3: {"f32.convert_i32_u", immNone, 0},
	0xb4: {"f32.convert_i64_s", immNone, 0},
	0xb5: {"f32.convert_i64_u", immNone, 0},
	0xb6: {"f32.demote_f64", immNone, 0},
	0xb7: {"f64.convert_i32_s", immNone, 0},
	0xb8: {"f64.convert_i32_u", immNone, 0},
	0xb9: {"f64.convert_i64_s", immNone, 0},
	0xba: {"f64.convert_i64_u", immNone, 0},
	0xbb: {"f64.promote_f32", immNone, 0},
	0xbc: {"i32.reinterpret_f32", immNone, 0},
	0xbd: {"i64.reinterpret_f64", immNone, 0},
	0xbe: {"f32.reinterpret_i32", immNone, 0},
	0xbf: {"f64.reinterpret_i64", immNone, 0},
	0xc0: {"i32.extend8_s", immNone, FeatureSignExt},
	0xc1: {"i32.extend16_s", immNone, FeatureSignExt},
	0xc2: {"i64.extend8_s", immNone, FeatureSignExt},
	0xc3: {"i64.extend16_s", immNone, FeatureSignExt},
	0xc4: {"i64.extend32_s", immNone, FeatureSignExt},
	0xd0: {"ref.null", immHeap, FeatureReferenceTypes},
	0xd1: {"ref.is_null", immNone, FeatureReferenceTypes},
	0xd2: {"ref.func", immFunc, FeatureReferenceTypes},
	0xd3: {"ref.eq", immNone, FeatureGC},
	0xd4: {"ref.as_non_null", immNone, FeatureTypedFuncRefs},
	0xd5: {"br_on_null", immLabel, FeatureTypedFuncRefs},
	0xd6: {"br_on_non_null", immLabel, FeatureTypedFuncRefs},
}

var opsMisc = [32]opDesc{
	0x00: {"i32.trunc_sat_f32_s", immNone, FeatureSatFloatToInt},
	0x01: {"i32.trunc_sat_f32_u", immNone, FeatureSatFloatToInt},
	0x02: {"i32.trunc_sat_f64_s", immNone, FeatureSatFloatToInt},
	0x03: {"i32.trunc_sat_f64_u", immNone, FeatureSatFloatToInt},
	0x04: {"i64.trunc_sat_f32_s", immNone, FeatureSatFloatToInt},
	0x05: {"i64.trunc_sat_f32_u", immNone, FeatureSatFloatToInt},
	0x06: {"i64.trunc_sat_f64_s", immNone, FeatureSatFloatToInt},
	0x07: {"i64.trunc_sat_f64_u", immNone, FeatureSatFloatToInt},
	0x08: {"memory.init", immMemInit, FeatureBulkMemory},
	0x09: {"data.drop", immData, FeatureBulkMemory},
	0x0a: {"memory.copy", immMemCopy, FeatureBulkMemory},
	0x0b: {"memory.fill", immMem, FeatureBulkMemory},
	0x0c: {"table.init", immTableInit, FeatureBulkMemory},
	0x0d: {"elem.drop", immElem, FeatureBulkMemory},
	0x0e: {"table.copy", immTableCopy, FeatureBulkMemory},
	0x0f: {"table.grow", immTable, FeatureReferenceTypes},
	0x10: {"table.size", immTable, FeatureReferenceTypes},
	0x11: {"table.fill", immTable, FeatureReferenceTypes},
}

var opsSIMD = [256]opDesc{
	0x00: {"v128.load", immMemArg, FeatureSIMD},
	0x01: {"v128.load8x8_s", immMemArg, FeatureSIMD},
	0x02: {"v128.load8x8_u", immMemArg, FeatureSIMD},
	0x03: {"v128.load16x4_s", immMemArg, FeatureSIMD},
	0x04: {"v128.load16x4_u", immMemArg, FeatureSIMD},
	0x05: {"v128.load32x2_s", immMemArg, FeatureSIMD},
	0x06: {"v128.load32x2_u", immMemArg, FeatureSIMD},
	0x07: {"v128.load8_splat", immMemArg, FeatureSIMD},
	0x08: {"v128.load16_splat", immMemArg, FeatureSIMD},
	0x09: {"v128.load32_splat", immMemArg, FeatureSIMD},
	0x0a: {"v128.load64_splat", immMemArg, FeatureSIMD},
	0x0b: {"v128.store", immMemArg, FeatureSIMD},
	0x0c: {"v128.const", immV128, FeatureSIMD},
	0x0d: {"i8x16.shuffle", immShuffle, FeatureSIMD},
	0x0e: {"i8x16.swizzle", immNone, FeatureSIMD},
	0x0f: {"i8x16.splat", immNone, FeatureSIMD},
	0x10: {"i16x8.splat", immNone, FeatureSIMD},
	0x11: {"i32x4.splat", immNone, FeatureSIMD},
	0x12: {"i64x2.splat", immNone, FeatureSIMD},
	0x13: {"f32x4.splat", immNone, FeatureSIMD},
	0x14: {"f64x2.splat", immNone, FeatureSIMD},
	0x15: {"i8x16.extract_lane_s", immLane, FeatureSIMD},
	0x16: {"i8x16.extract_lane_u", immLane, FeatureSIMD},
	0x17: {"i8x16.replace_lane", immLane, FeatureSIMD},
	0x18: {"i16x8.extract_lane_s", immLane, FeatureSIMD},
	0x19: {"i16x8.extract_lane_u", immLane, FeatureSIMD},
	0x1a: {"i16x8.replace_lane", immLane, FeatureSIMD},
	0x1b: {"i32x4.extract_lane", immLane, FeatureSIMD},
	0x1c: {"i32x4.replace_lane", immLane, FeatureSIMD},
	0x1d: {"i64x2.extract_lane", immLane, FeatureSIMD},
	0x1e: {"i64x2.replace_lane", immLane, FeatureSIMD},
	0x1f: {"f32x4.extract_lane", immLane, FeatureSIMD},
	0x20: {"f32x4.replace_lane", immLane, FeatureSIMD},
	0x21: {"f64x2.extract_lane", immLane, FeatureSIMD},
	0x22: {"f64x2.replace_lane", immLane, FeatureSIMD},
	0x23: {"i8x16.eq", immNone, FeatureSIMD},
	0x24: {"i8x16.ne", immNone, FeatureSIMD},
	0x25: {"i8x16.lt_s", immNone, FeatureSIMD},
	0x26: {"i8x16.lt_u", immNone, FeatureSIMD},
	0x27: {"i8x16.gt_s", immNone, FeatureSIMD},
	0x28: {"i8x16.gt_u", immNone, FeatureSIMD},
	0x29: {"i8x16.le_s", immNone, FeatureSIMD},
	0x2a: {"i8x16.le_u", immNone, FeatureSIMD},
	0x2b: {"i8x16.ge_s", immNone, FeatureSIMD},
	0x2c: {"i8x16.ge_u", immNone, FeatureSIMD},
	0x2d: {"i16x8.eq", immNone, FeatureSIMD},
	0x2e: {"i16x8.ne", immNone, FeatureSIMD},
	0x2f: {"i16x8.lt_s", immNone, FeatureSIMD},
	0x30: {"i16x8.lt_u", immNone, FeatureSIMD},
	0x31: {"i16x8.gt_s", immNone, FeatureSIMD},
	0x32: {"i16x8.gt_u", immNone, FeatureSIMD},
	0x33: {"i16x8.le_s", immNone, FeatureSIMD},
	0x34: {"i16x8.le_u", immNone, FeatureSIMD},
	0x35: {"i16x8.ge_s", immNone, FeatureSIMD},
	0x36: {"i16x8.ge_u", immNone, FeatureSIMD},
	0x37: {"i32x4.eq", immNone, FeatureSIMD},
	0x38: {"i32x4.ne", immNone, FeatureSIMD},
	0x39: {"i32x4.lt_s", immNone, FeatureSIMD},
	0x3a: {"i32x4.lt_u", immNone, FeatureSIMD},
	0x3b: {"i32x4.gt_s", immNone, FeatureSIMD},
	0x3c: {"i32x4.gt_u", immNone, FeatureSIMD},
	0x3d: {"i32x4.le_s", immNone, FeatureSIMD},
	0x3e: {"i32x4.le_u", immNone, FeatureSIMD},
	0x3f: {"i32x4.ge_s", immNone, FeatureSIMD},
	0x40: {"i32x4.ge_u", immNone, FeatureSIMD},
	0x41: {"f32x4.eq", immNone, FeatureSIMD},
	0x42: {"f32x4.ne", immNone, FeatureSIMD},
	0x43: {"f32x4.lt", immNone, FeatureSIMD},
	0x44: {"f32x4.gt", immNone, FeatureSIMD},
	0x45: {"f32x4.le", immNone, FeatureSIMD},
	0x46: {"f32x4.ge", immNone, FeatureSIMD},
	0x47: {"f64x2.eq", immNone, FeatureSIMD},
	0x48: {"f64x2.ne", immNone, FeatureSIMD},
	0x49: {"f64x2.lt", immNone, FeatureSIMD},
	0x4a: {"f64x2.gt", immNone, FeatureSIMD},
	0x4b: {"f64x2.le", immNone, FeatureSIMD},
	0x4c: {"f64x2.ge", immNone, FeatureSIMD},
	0x4d: {"v128.not", immNone, FeatureSIMD},
	0x4e: {"v128.and", immNone, FeatureSIMD},
	0x4f: {"v128.andnot", immNone, FeatureSIMD},
	0x50: {"v128.or", immNone, FeatureSIMD},
	0x51: {"v128.xor", immNone, FeatureSIMD},
	0x52: {"v128.bitselect", immNone, FeatureSIMD},
	0x53: {"v128.any_true", immNone, FeatureSIMD},
	0x54: {"v128.load8_lane", immMemArgLane, FeatureSIMD},
	0x55: {"v128.load16_lane", immMemArgLane, FeatureSIMD},
	0x56: {"v128.load32_lane", immMemArgLane, FeatureSIMD},
	0x57: {"v128.load64_lane", immMemArgLane, FeatureSIMD},
	0x58: {"v128.store8_lane", immMemArgLane, FeatureSIMD},
	0x59: {"v128.store16_lane", immMemArgLane, FeatureSIMD},
	0x5a: {"v128.store32_lane", immMemArgLane, FeatureSIMD},
	0x5b: {"v128.store64_lane", immMemArgLane, FeatureSIMD},
	0x5c: {"v128.load32_zero", immMemArg, FeatureSIMD},
	0x5d: {"v128.load64_zero", immMemArg, FeatureSIMD},
	0x5e: {"f32x4.demote_f64x2_zero", immNone, FeatureSIMD},
	0x5f: {"f64x2.promote_low_f32x4", immNone, FeatureSIMD},
	0x60: {"i8x16.abs", immNone, FeatureSIMD},
	0x61: {"i8x16.neg", immNone, FeatureSIMD},
	0x62: {"i8x16.popcnt", immNone, FeatureSIMD},
	0x63: {"i8x16.all_true", immNone, FeatureSIMD},
	0x64: {"i8x16.bitmask", immNone, FeatureSIMD},
	0x65: {"i8x16.narrow_i16x8_s", immNone, FeatureSIMD},
	0x66: {"i8x16.narrow_i16x8_u", immNone, FeatureSIMD},
	0x67: {"f32x4.ceil", immNone, FeatureSIMD},
	0x68: {"f32x4.floor", immNone, FeatureSIMD},
	0x69: {"f32x4.trunc", immNone, FeatureSIMD},
	0x6a: {"f32x4.nearest", immNone, FeatureSIMD},
	0x6b: {"i8x16.shl", immNone, FeatureSIMD},
	0x6c: {"i8x16.shr_s", immNone, FeatureSIMD},
	0x6d: {"i8x16.shr_u", immNone, FeatureSIMD},
	0x6e: {"i8x16.add", immNone, FeatureSIMD},
	0x6f: {"i8x16.add_sat_s", immNone, FeatureSIMD},
	0x70: {"i8x16.add_sat_u", immNone, FeatureSIMD},
	0x71: {"i8x16.sub", immNone, FeatureSIMD},
	0x72: {"i8x16.sub_sat_s", immNone, FeatureSIMD},
	0x73: {"i8x16.sub_sat_u", immNone, FeatureSIMD},
	0x74: {"f64x2.ceil", immNone, FeatureSIMD},
	0x75: {"f64x2.floor", immNone, FeatureSIMD},
	0x76: {"i8x16.min_s", immNone, FeatureSIMD},
	0x77: {"i8x16.min_u", immNone, FeatureSIMD},
	0x78: {"i8x16.max_s", immNone, FeatureSIMD},
	0x79: {"i8x16.max_u", immNone, FeatureSIMD},
	0x7a: {"f64x2.trunc", immNone, FeatureSIMD},
	0x7b: {"i8x16.avgr_u", immNone, FeatureSIMD},
	0x7c: {"i16x8.extadd_pairwise_i8x16_s", immNone, FeatureSIMD},
	0x7d: {"i16x8.extadd_pairwise_i8x16_u", immNone, FeatureSIMD},
	0x7e: {"i32x4.extadd_pairwise_i16x8_s", immNone, FeatureSIMD},
	0x7f: {"i32x4.extadd_pairwise_i16x8_u", immNone, FeatureSIMD},
	0x80: {"i16x8.abs", immNone, FeatureSIMD},
	0x81: {"i16x8.neg", immNone, FeatureSIMD},
	0x82: {"i16x8.q15mulr_sat_s", immNone, FeatureSIMD},
	0x83: {"i16x8.all_true", immNone, FeatureSIMD},
	0x84: {"i16x8.bitmask", immNone, FeatureSIMD},
	0x85: {"i16x8.narrow_i32x4_s", immNone, FeatureSIMD},
	0x86: {"i16x8.narrow_i32x4_u", immNone, FeatureSIMD},
	0x87: {"i16x8.extend_low_i8x16_s", immNone, FeatureSIMD},
	0x88: {"i16x8.extend_high_i8x16_s", immNone, FeatureSIMD},
	0x89: {"i16x8.extend_low_i8x16_u", immNone, FeatureSIMD},
	0x8a: {"i16x8.extend_high_i8x16_u", immNone, FeatureSIMD},
	0x8b: {"i16x8.shl", immNone, FeatureSIMD},
	0x8c: {"i16x8.shr_s", immNone, FeatureSIMD},
	0x8d: {"i16x8.shr_u", immNone, FeatureSIMD},
	0x8e: {"i16x8.add", immNone, FeatureSIMD},
	0x8f: {"i16x8.add_sat_s", immNone, FeatureSIMD},
	0x90: {"i16x8.add_sat_u", immNone, FeatureSIMD},
	0x91: {"i16x8.sub", immNone, FeatureSIMD},
	0x92: {"i16x8.sub_sat_s", immNone, FeatureSIMD},
	0x93: {"i16x8.sub_sat_u", immNone, FeatureSIMD},
	0x94: {"f64x2.nearest", immNone, FeatureSIMD},
	0x95: {"i16x8.mul", immNone, FeatureSIMD},
	0x96: {"i16x8.min_s", immNone, FeatureSIMD},
	0x97: {"i16x8.min_u", immNone, FeatureSIMD},
	0x98: {"i16x8.max_s", immNone, FeatureSIMD},
	0x99: {"i16x8.max_u", immNone, FeatureSIMD},
	0x9b: {"i16x8.avgr_u", immNone, FeatureSIMD},
	0x9c: {"i16x8.extmul_low_i8x16_s", immNone, FeatureSIMD},
	0x9d: {"i16x8.extmul_high_i8x16_s", immNone, FeatureSIMD},
	0x9e: {"i16x8.extmul_low_i8x16_u", immNone, FeatureSIMD},
	0x9f: {"i16x8.extmul_high_i8x16_u", immNone, FeatureSIMD},
	0xa0: {"i32x4.abs", immNone, FeatureSIMD},
	0xa1: {"i32x4.neg", immNone, FeatureSIMD},
	0xa3: {"i32x4.all_true", immNone, FeatureSIMD},
	0xa4: {"i32x4.bitmask", immNone, FeatureSIMD},
	0xa7: {"i32x4.extend_low_i16x8_s", immNone, FeatureSIMD},
	0xa8: {"i32x4.extend_high_i16x8_s", immNone, FeatureSIMD},
	0xa9: {"i32x4.extend_low_i16x8_u", immNone, FeatureSIMD},
	0xaa: {"i32x4.extend_high_i16x8_u", immNone, FeatureSIMD},
	0xab: {"i32x4.shl", immNone, FeatureSIMD},
	0xac: {"i32x4.shr_s", immNone, FeatureSIMD},
	0xad: {"i32x4.shr_u", immNone, FeatureSIMD},
	0xae: {"i32x4.add", immNone, FeatureSIMD},
	0xb1: {"i32x4.sub", immNone, FeatureSIMD},
	0xb5: {"i32x4.mul", immNone, FeatureSIMD},
	0xb6: {"i32x4.min_s", immNone, FeatureSIMD},
	0xb7: {"i32x4.min_u", immNone, FeatureSIMD},
	0xb8: {"i32x4.max_s", immNone, FeatureSIMD},
	0xb9: {"i32x4.max_u", immNone, FeatureSIMD},
	0xba: {"i32x4.dot_i16x8_s", immNone, FeatureSIMD},
	0xbc: {"i32x4.extmul_low_i16x8_s", immNone, FeatureSIMD},
	0xbd: {"i32x4.extmul_high_i16x8_s", immNone, FeatureSIMD},
	0xbe: {"i32x4.extmul_low_i16x8_u", immNone, FeatureSIMD},
	0xbf: {"i32x4.extmul_high_i16x8_u", immNone, FeatureSIMD},
	0xc0: {"i64x2.abs", immNone, FeatureSIMD},
	0xc1: {"i64x2.neg", immNone, FeatureSIMD},
	0xc3: {"i64x2.all_true", immNone, FeatureSIMD},
	0xc4: {"i64x2.bitmask", immNone, FeatureSIMD},
	0xc7: {"i64x2.extend_low_i32x4_s", immNone, FeatureSIMD},
	0xc8: {"i64x2.extend_high_i32x4_s", immNone, FeatureSIMD},
	0xc9: {"i64x2.extend_low_i32x4_u", immNone, FeatureSIMD},
	0xca: {"i64x2.extend_high_i32x4_u", immNone, FeatureSIMD},
	0xcb: {"i64x2.shl", immNone, FeatureSIMD},
	0xcc: {"i64x2.shr_s", immNone, FeatureSIMD},
	0xcd: {"i64x2.shr_u", immNone, FeatureSIMD},
	0xce: {"i64x2.add", immNone, FeatureSIMD},
	0xd1: {"i64x2.sub", immNone, FeatureSIMD},
	0xd5: {"i64x2.mul", immNone, FeatureSIMD},
	0xd6: {"i64x2.eq", immNone, FeatureSIMD},
	0xd7: {"i64x2.ne", immNone, FeatureSIMD},
	0xd8: {"i64x2.lt_s", immNone, FeatureSIMD},
	0xd9: {"i64x2.gt_s", immNone, FeatureSIMD},
	0xda: {"i64x2.le_s", immNone, FeatureSIMD},
	0xdb: {"i64x2.ge_s", immNone, FeatureSIMD},
	0xdc: {"i64x2.extmul_low_i32x4_s", immNone, FeatureSIMD},
	0xdd: {"i64x2.extmul_high_i32x4_s", immNone, FeatureSIMD},
	0xde: {"i64x2.extmul_low_i32x4_u", immNone, FeatureSIMD},
	0xdf: {"i64x2.extmul_high_i32x4_u", immNone, FeatureSIMD},
	0xe0: {"f32x4.abs", immNone, FeatureSIMD},
	0xe1: {"f32x4.neg", immNone, FeatureSIMD},
	0xe3: {"f32x4.sqrt", immNone, FeatureSIMD},
	0xe4: {"f32x4.add", immNone, FeatureSIMD},
	0xe5: {"f32x4.sub", immNone, FeatureSIMD},
	0xe6: {"f32x4.mul", immNone, FeatureSIMD},
	0xe7: {"f32x4.div", immNone, FeatureSIMD},
	0xe8: {"f32x4.min", immNone, FeatureSIMD},
	0xe9: {"f32x4.max", immNone, FeatureSIMD},
	0xea: {"f32x4.pmin", immNone, FeatureSIMD},
	0xeb: {"f32x4.pmax", immNone, FeatureSIMD},
	0xec: {"f64x2.abs", immNone, FeatureSIMD},
	0xed: {"f64x2.neg", immNone, FeatureSIMD},
	0xef: {"f64x2.sqrt", immNone, FeatureSIMD},
	0xf0: {"f64x2.add", immNone, FeatureSIMD},
	0xf1: {"f64x2.sub", immNone, FeatureSIMD},
	0xf2: {"f64x2.mul", immNone, FeatureSIMD},
	0xf3: {"f64x2.div", immNone, FeatureSIMD},
	0xf4: {"f64x2.min", immNone, FeatureSIMD},
	0xf5: {"f64x2.max", immNone, FeatureSIMD},
	0xf6: {"f64x2.pmin", immNone, FeatureSIMD},
	0xf7: {"f64x2.pmax", immNone, FeatureSIMD},
	0xf8: {"i32x4.trunc_sat_f32x4_s", immNone, FeatureSIMD},
	0xf9: {"i32x4.trunc_sat_f32x4_u", immNone, FeatureSIMD},
	0xfa: {"f32x4.convert_i32x4_s", immNone, FeatureSIMD},
	0xfb: {"f32x4.convert_i32x4_u", immNone, FeatureSIMD},
	0xfc: {"i32x4.trunc_sat_f64x2_s_zero", immNone, FeatureSIMD},
	0xfd: {"i32x4.trunc_sat_f64x2_u_zero", immNone, FeatureSIMD},
	0xfe: {"f64x2.convert_low_i32x4_s", immNone, FeatureSIMD},
	0xff: {"f64x2.convert_low_i32x4_u", immNone, FeatureSIMD},
}

var opsAtomic = [80]opDesc{
	0x00: {"memory.atomic.notify", immMemArg, FeatureThreads},
	0x01: {"memory.atomic.wait32", immMemArg, FeatureThreads},
	0x02: {"memory.atomic.wait64", immMemArg, FeatureThreads},
	0x03: {"atomic.fence", immFence, FeatureThreads},
	0x10: {"i32.atomic.load", immMemArg, FeatureThreads},
	0x11: {"i64.atomic.load", immMemArg, FeatureThreads},
	0x12: {"i32.atomic.load8_u", immMemArg, FeatureThreads},
	0x13: {"i32.atomic.load16_u", immMemArg, FeatureThreads},
	0x14: {"i64.atomic.load8_u", immMemArg, FeatureThreads},
	0x15: {"i64.atomic.load16_u", immMemArg, FeatureThreads},
	0x16: {"i64.atomic.load32_u", immMemArg, FeatureThreads},
	0x17: {"i32.atomic.store", immMemArg, FeatureThreads},
	0x18: {"i64.atomic.store", immMemArg, FeatureThreads},
	0x19: {"i32.atomic.store8", immMemArg, FeatureThreads},
	0x1a: {"i32.atomic.store16", immMemArg, FeatureThreads},
	0x1b: {"i64.atomic.store8", immMemArg, FeatureThreads},
	0x1c: {"i64.atomic.store16", immMemArg, FeatureThreads},
	0x1d: {"i64.atomic.store32", immMemArg, FeatureThreads},
	0x1e: {"i32.atomic.rmw.add", immMemArg, FeatureThreads},
	0x1f: {"i64.atomic.rmw.add", immMemArg, FeatureThreads},
	0x20: {"i32.atomic.rmw8.add_u", immMemArg, FeatureThreads},
	0x21: {"i32.atomic.rmw16.add_u", immMemArg, FeatureThreads},
	0x22: {"i64.atomic.rmw8.add_u", immMemArg, FeatureThreads},
	0x23: {"i64.atomic.rmw16.add_u", immMemArg, FeatureThreads},
	0x24: {"i64.atomic.rmw32.add_u", immMemArg, FeatureThreads},
	0x25: {"i32.atomic.rmw.sub", immMemArg, FeatureThreads},
	0x26: {"i64.atomic.rmw.sub", immMemArg, FeatureThreads},
	0x27: {"i32.atomic.rmw8.sub_u", immMemArg, FeatureThreads},
	0x28: {"i32.atomic.rmw16.sub_u", immMemArg, FeatureThreads},
	0x29: {"i64.atomic.rmw8.sub_u", immMemArg, FeatureThreads},
	0x2a: {"i64.atomic.rmw16.sub_u", immMemArg, FeatureThreads},
	0x2b: {"i64.atomic.rmw32.sub_u", immMemArg, FeatureThreads},
	0x2c: {"i32.atomic.rmw.and", immMemArg, FeatureThreads},
	0x2d: {"i64.atomic.rmw.and", immMemArg, FeatureThreads},
	0x2e: {"i32.atomic.rmw8.and_u", immMemArg, FeatureThreads},
	0x2f: {"i32.atomic.rmw16.and_u", immMemArg, FeatureThreads},
	0x30: {"i64.atomic.rmw8.and_u", immMemArg, FeatureThreads},
	0x31: {"i64.atomic.rmw16.and_u", immMemArg, FeatureThreads},
	0x32: {"i64.atomic.rmw32.and_u", immMemArg, FeatureThreads},
	0x33: {"i32.atomic.rmw.or", immMemArg, FeatureThreads},
	0x34: {"i64.atomic.rmw.or", immMemArg, FeatureThreads},
	0x35: {"i32.atomic.rmw8.or_u", immMemArg, FeatureThreads},
	0x36: {"i32.atomic.rmw16.or_u", immMemArg, FeatureThreads},
	0x37: {"i64.atomic.rmw8.or_u", immMemArg, FeatureThreads},
	0x38: {"i64.atomic.rmw16.or_u", immMemArg, FeatureThreads},
	0x39: {"i64.atomic.rmw32.or_u", immMemArg, FeatureThreads},
	0x3a: {"i32.atomic.rmw.xor", immMemArg, FeatureThreads},
	0x3b: {"i64.atomic.rmw.xor", immMemArg, FeatureThreads},
	0x3c: {"i32.atomic.rmw8.xor_u", immMemArg, FeatureThreads},
	0x3d: {"i32.atomic.rmw16.xor_u", immMemArg, FeatureThreads},
	0x3e: {"i64.atomic.rmw8.xor_u", immMemArg, FeatureThreads},
	0x3f: {"i64.atomic.rmw16.xor_u", immMemArg, FeatureThreads},
	0x40: {"i64.atomic.rmw32.xor_u", immMemArg, FeatureThreads},
	0x41: {"i32.atomic.rmw.xchg", immMemArg, FeatureThreads},
	0x42: {"i64.atomic.rmw.xchg", immMemArg, FeatureThreads},
	0x43: {"i32.atomic.rmw8.xchg_u", immMemArg, FeatureThreads},
	0x44: {"i32.atomic.rmw16.xchg_u", immMemArg, FeatureThreads},
	0x45: {"i64.atomic.rmw8.xchg_u", immMemArg, FeatureThreads},
	0x46: {"i64.atomic.rmw16.xchg_u", immMemArg, FeatureThreads},
	0x47: {"i64.atomic.rmw32.xchg_u", immMemArg, FeatureThreads},
	0x48: {"i32.atomic.rmw.cmpxchg", immMemArg, FeatureThreads},
	0x49: {"i64.atomic.rmw.cmpxchg", immMemArg, FeatureThreads},
	0x4a: {"i32.atomic.rmw8.cmpxchg_u", immMemArg, FeatureThreads},
	0x4b: {"i32.atomic.rmw16.cmpxchg_u", immMemArg, FeatureThreads},
	0x4c: {"i64.atomic.rmw8.cmpxchg_u", immMemArg, FeatureThreads},
	0x4d: {"i64.atomic.rmw16.cmpxchg_u", immMemArg, FeatureThreads},
	0x4e: {"i64.atomic.rmw32.cmpxchg_u", immMemArg, FeatureThreads},
}

// Opcodes of the GC proposal (0xFB prefix) and relaxed SIMD (0xFD 0x100-0x113).
const (
	OpStructNew                     Opcode = 0xfb0000 // struct.new
	OpStructNewDefault              Opcode = 0xfb0001 // struct.new_default
	OpStructGet                     Opcode = 0xfb0002 // struct.get
	OpStructGetS                    Opcode = 0xfb0003 // struct.get_s
	OpStructGetU                    Opcode = 0xfb0004 // struct.get_u
	OpStructSet                     Opcode = 0xfb0005 // struct.set
	OpArrayNew                      Opcode = 0xfb0006 // array.new
	OpArrayNewDefault               Opcode = 0xfb0007 // array.new_default
	OpArrayNewFixed                 Opcode = 0xfb0008 // array.new_fixed
	OpArrayNewData                  Opcode = 0xfb0009 // array.new_data
	OpArrayNewElem                  Opcode = 0xfb000a // array.new_elem
	OpArrayGet                      Opcode = 0xfb000b // array.get
	OpArrayGetS                     Opcode = 0xfb000c // array.get_s
	OpArrayGetU                     Opcode = 0xfb000d // array.get_u
	OpArraySet                      Opcode = 0xfb000e // array.set
	OpArrayLen                      Opcode = 0xfb000f // array.len
	OpArrayFill                     Opcode = 0xfb0010 // array.fill
	OpArrayCopy                     Opcode = 0xfb0011 // array.copy
	OpArrayInitData                 Opcode = 0xfb0012 // array.init_data
	OpArrayInitElem                 Opcode = 0xfb0013 // array.init_elem
	OpRefTest                       Opcode = 0xfb0014 // ref.test
	OpRefTestNull                   Opcode = 0xfb0015 // ref.test
	OpRefCast                       Opcode = 0xfb0016 // ref.cast
	OpRefCastNull                   Opcode = 0xfb0017 // ref.cast
	OpBrOnCast                      Opcode = 0xfb0018 // br_on_cast
	OpBrOnCastFail                  Opcode = 0xfb0019 // br_on_cast_fail
	OpAnyConvertExtern              Opcode = 0xfb001a // any.convert_extern
	OpExternConvertAny              Opcode = 0xfb001b // extern.convert_any
	OpRefI31                        Opcode = 0xfb001c // ref.i31
	OpI31GetS                       Opcode = 0xfb001d // i31.get_s
	OpI31GetU                       Opcode = 0xfb001e // i31.get_u
	OpI8x16RelaxedSwizzle           Opcode = 0xfd0100 // i8x16.relaxed_swizzle
	OpI32x4RelaxedTruncF32x4S       Opcode = 0xfd0101 // i32x4.relaxed_trunc_f32x4_s
	OpI32x4RelaxedTruncF32x4U       Opcode = 0xfd0102 // i32x4.relaxed_trunc_f32x4_u
	OpI32x4RelaxedTruncF64x2SZero   Opcode = 0xfd0103 // i32x4.relaxed_trunc_f64x2_s_zero
	OpI32x4RelaxedTruncF64x2UZero   Opcode = 0xfd0104 // i32x4.relaxed_trunc_f64x2_u_zero
	OpF32x4RelaxedMadd              Opcode = 0xfd0105 // f32x4.relaxed_madd
	OpF32x4RelaxedNmadd             Opcode = 0xfd0106 // f32x4.relaxed_nmadd
	OpF64x2RelaxedMadd              Opcode = 0xfd0107 // f64x2.relaxed_madd
	OpF64x2RelaxedNmadd             Opcode = 0xfd0108 // f64x2.relaxed_nmadd
	OpI8x16RelaxedLaneselect        Opcode = 0xfd0109 // i8x16.relaxed_laneselect
	OpI16x8RelaxedLaneselect        Opcode = 0xfd010a // i16x8.relaxed_laneselect
	OpI32x4RelaxedLaneselect        Opcode = 0xfd010b // i32x4.relaxed_laneselect
	OpI64x2RelaxedLaneselect        Opcode = 0xfd010c // i64x2.relaxed_laneselect
	OpF32x4RelaxedMin               Opcode = 0xfd010d // f32x4.relaxed_min
	OpF32x4RelaxedMax               Opcode = 0xfd010e // f32x4.relaxed_max
	OpF64x2RelaxedMin               Opcode = 0xfd010f // f64x2.relaxed_min
	OpF64x2RelaxedMax               Opcode = 0xfd0110 // f64x2.relaxed_max
	OpI16x8RelaxedQ15mulrS          Opcode = 0xfd0111 // i16x8.relaxed_q15mulr_s
	OpI16x8RelaxedDotI8x16I7x16S    Opcode = 0xfd0112 // i16x8.relaxed_dot_i8x16_i7x16_s
	OpI32x4RelaxedDotI8x16I7x16AddS Opcode = 0xfd0113 // i32x4.relaxed_dot_i8x16_i7x16_add_s
)

var opsGC = [31]opDesc{
	0x00: {"struct.new", immType, FeatureGC},
	0x01: {"struct.new_default", immType, FeatureGC},
	0x02: {"struct.get", immTypeField, FeatureGC},
	0x03: {"struct.get_s", immTypeField, FeatureGC},
	0x04: {"struct.get_u", immTypeField, FeatureGC},
	0x05: {"struct.set", immTypeField, FeatureGC},
	0x06: {"array.new", immType, FeatureGC},
	0x07: {"array.new_default", immType, FeatureGC},
	0x08: {"array.new_fixed", immTypeCount, FeatureGC},
	0x09: {"array.new_data", immTypeData, FeatureGC},
	0x0a: {"array.new_elem", immTypeElem, FeatureGC},
	0x0b: {"array.get", immType, FeatureGC},
	0x0c: {"array.get_s", immType, FeatureGC},
	0x0d: {"array.get_u", immType, FeatureGC},
	0x0e: {"array.set", immType, FeatureGC},
	0x0f: {"array.len", immNone, FeatureGC},
	0x10: {"array.fill", immType, FeatureGC},
	0x11: {"array.copy", immTypeType, FeatureGC},
	0x12: {"array.init_data", immTypeData, FeatureGC},
	0x13: {"array.init_elem", immTypeElem, FeatureGC},
	0x14: {"ref.test", immHeap, FeatureGC},
	0x15: {"ref.test", immHeap, FeatureGC},
	0x16: {"ref.cast", immHeap, FeatureGC},
	0x17: {"ref.cast", immHeap, FeatureGC},
	0x18: {"br_on_cast", immCast, FeatureGC},
	0x19: {"br_on_cast_fail", immCast, FeatureGC},
	0x1a: {"any.convert_extern", immNone, FeatureGC},
	0x1b: {"extern.convert_any", immNone, FeatureGC},
	0x1c: {"ref.i31", immNone, FeatureGC},
	0x1d: {"i31.get_s", immNone, FeatureGC},
	0x1e: {"i31.get_u", immNone, FeatureGC},
}

// opsRelaxedSIMD holds 0xFD 0x100-0x113, indexed by sub-opcode - 0x100.
var opsRelaxedSIMD = [20]opDesc{
	0x00: {"i8x16.relaxed_swizzle", immNone, FeatureSIMD | FeatureRelaxedSIMD},
	0x01: {"i32x4.relaxed_trunc_f32x4_s", immNone, FeatureSIMD | FeatureRelaxedSIMD},
	0x02: {"i32x4.relaxed_trunc_f32x4_u", immNone, FeatureSIMD | FeatureRelaxedSIMD},
	0x03: {"i32x4.relaxed_trunc_f64x2_s_zero", immNone, FeatureSIMD | FeatureRelaxedSIMD},
	0x04: {"i32x4.relaxed_trunc_f64x2_u_zero", immNone, FeatureSIMD | FeatureRelaxedSIMD},
	0x05: {"f32x4.relaxed_madd", immNone, FeatureSIMD | FeatureRelaxedSIMD},
	0x06: {"f32x4.relaxed_nmadd", immNone, FeatureSIMD | FeatureRelaxedSIMD},
	0x07: {"f64x2.relaxed_madd", immNone, FeatureSIMD | FeatureRelaxedSIMD},
	0x08: {"f64x2.relaxed_nmadd", immNone, FeatureSIMD | FeatureRelaxedSIMD},
	0x09: {"i8x16.relaxed_laneselect", immNone, FeatureSIMD | FeatureRelaxedSIMD},
	0x0a: {"i16x8.relaxed_laneselect", immNone, FeatureSIMD | FeatureRelaxedSIMD},
	0x0b: {"i32x4.relaxed_laneselect", immNone, FeatureSIMD | FeatureRelaxedSIMD},
	0x0c: {"i64x2.relaxed_laneselect", immNone, FeatureSIMD | FeatureRelaxedSIMD},
	0x0d: {"f32x4.relaxed_min", immNone, FeatureSIMD | FeatureRelaxedSIMD},
	0x0e: {"f32x4.relaxed_max", immNone, FeatureSIMD | FeatureRelaxedSIMD},
	0x0f: {"f64x2.relaxed_min", immNone, FeatureSIMD | FeatureRelaxedSIMD},
	0x10: {"f64x2.relaxed_max", immNone, FeatureSIMD | FeatureRelaxedSIMD},
	0x11: {"i16x8.relaxed_q15mulr_s", immNone, FeatureSIMD | FeatureRelaxedSIMD},
	0x12: {"i16x8.relaxed_dot_i8x16_i7x16_s", immNone, FeatureSIMD | FeatureRelaxedSIMD},
	0x13: {"i32x4.relaxed_dot_i8x16_i7x16_add_s", immNone, FeatureSIMD | FeatureRelaxedSIMD},
}
