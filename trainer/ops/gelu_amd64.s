//go:build amd64 && !purego

#include "textflag.h"

// Constants for the AVX2 GELU kernels, each float64 repeated in four lanes
// (32 bytes): erfRational's coefficients, its clamp, and exp's.
#define C4(off, v) DATA geluC<>+(off)+0(SB)/8, $v; DATA geluC<>+(off)+8(SB)/8, $v; DATA geluC<>+(off)+16(SB)/8, $v; DATA geluC<>+(off)+24(SB)/8, $v

C4(0, 0.7071067811865476)       // 1/√2
C4(32, 4.0)
C4(64, -4.0)
C4(96, -2.72614225801306e-10)   // α13
C4(128, 2.77068142495902e-08)   // α11
C4(160, -2.10102402082508e-06)  // α9
C4(192, -5.69250639462346e-05)  // α7
C4(224, -7.34990630326855e-04)  // α5
C4(256, -2.95459980854025e-03)  // α3
C4(288, -1.60960333262415e-02)  // α1
C4(320, -1.45660718464996e-05)  // β8
C4(352, -2.13374055278905e-04)  // β6
C4(384, -1.68282697438203e-03)  // β4
C4(416, -7.37332916720468e-03)  // β2
C4(448, -1.42647390514189e-02)  // β0
C4(480, 1.0)
C4(512, 0.5)
C4(544, -0.5)
C4(576, -708.0)                 // exp clamp: 2ⁿ stays normal
C4(608, 1.4426950408889634)     // log₂e
C4(640, 0.6931471803691238)     // ln2 high
C4(672, 1.9082149292705877e-10) // ln2 low
C4(704, 1.984126984126984e-04)  // 1/7!
C4(736, 1.388888888888889e-03)  // 1/6!
C4(768, 8.333333333333333e-03)  // 1/5!
C4(800, 4.1666666666666664e-02) // 1/4!
C4(832, 1.6666666666666666e-01) // 1/3!
C4(864, 0.3989422804014327)     // 1/√(2π)
DATA geluC<>+896(SB)/8, $1023
DATA geluC<>+904(SB)/8, $1023
DATA geluC<>+912(SB)/8, $1023
DATA geluC<>+920(SB)/8, $1023
GLOBL geluC<>(SB), RODATA|NOPTR, $928

// ERF computes Y3 = erfRational(Y1) (Y1 = x/√2, clamped in place); uses Y2, Y4.
#define ERF \
	VMINPD geluC<>+32(SB), Y1, Y1 \
	VMAXPD geluC<>+64(SB), Y1, Y1 \
	VMULPD Y1, Y1, Y2 \
	VMOVUPD geluC<>+96(SB), Y3 \
	VFMADD213PD geluC<>+128(SB), Y2, Y3 \
	VFMADD213PD geluC<>+160(SB), Y2, Y3 \
	VFMADD213PD geluC<>+192(SB), Y2, Y3 \
	VFMADD213PD geluC<>+224(SB), Y2, Y3 \
	VFMADD213PD geluC<>+256(SB), Y2, Y3 \
	VFMADD213PD geluC<>+288(SB), Y2, Y3 \
	VMULPD Y1, Y3, Y3 \
	VMOVUPD geluC<>+320(SB), Y4 \
	VFMADD213PD geluC<>+352(SB), Y2, Y4 \
	VFMADD213PD geluC<>+384(SB), Y2, Y4 \
	VFMADD213PD geluC<>+416(SB), Y2, Y4 \
	VFMADD213PD geluC<>+448(SB), Y2, Y4 \
	VDIVPD Y4, Y3, Y3

// func geluForwardAVX2(n int, out, inp *float32)
// out[i] = ½x(1 + erf(x/√2)) for i < n, n a multiple of 4, in float64 lanes.
TEXT ·geluForwardAVX2(SB), NOSPLIT, $0-24
	MOVQ n+0(FP), CX
	MOVQ out+8(FP), DI
	MOVQ inp+16(FP), SI
	SHRQ $2, CX
	JZ   fdone

floop:
	VCVTPS2PD (SI), Y0
	VMULPD geluC<>+0(SB), Y0, Y1
	ERF
	VADDPD geluC<>+480(SB), Y3, Y3
	VMULPD geluC<>+512(SB), Y0, Y0
	VMULPD Y3, Y0, Y0
	VCVTPD2PSY Y0, X0
	VMOVUPS X0, (DI)
	ADDQ $16, SI
	ADDQ $16, DI
	DECQ CX
	JNZ  floop

fdone:
	VZEROUPPER
	RET

// func geluBackwardAVX2(n int, dinp, inp, dout *float32)
// dinp[i] += (Φ(x) + x·φ(x))·dout[i] for i < n, n a multiple of 4: Φ
// through erf, φ's exponential as e^(n·ln2 + r) = 2ⁿ·(degree-7 Taylor of
// eʳ), |r| ≤ ln2/2 (relative error < 1e-8), in float64 lanes; the product
// with dout and the sum in float32, as the Go code.
TEXT ·geluBackwardAVX2(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ dinp+8(FP), DI
	MOVQ inp+16(FP), SI
	MOVQ dout+24(FP), DX
	SHRQ $2, CX
	JZ   bdone

bloop:
	VCVTPS2PD (SI), Y0
	VMULPD geluC<>+0(SB), Y0, Y1
	ERF
	VADDPD geluC<>+480(SB), Y3, Y3
	VMULPD geluC<>+512(SB), Y3, Y3      // Y3 = Φ(x)
	// a = max(−x²/2, −708); n = round(a·log₂e); r = a − n·ln2
	VMULPD Y0, Y0, Y5
	VMULPD geluC<>+544(SB), Y5, Y5
	VMAXPD geluC<>+576(SB), Y5, Y5
	VMULPD geluC<>+608(SB), Y5, Y6
	VROUNDPD $0, Y6, Y6
	VMOVAPD Y6, Y7
	VFNMADD231PD geluC<>+640(SB), Y7, Y5 // Y5 = a − n·ln2hi
	VFNMADD231PD geluC<>+672(SB), Y7, Y5 // Y5 = r
	// eʳ ≈ 1 + r + r²/2 + … + r⁷/7!
	VMOVUPD geluC<>+704(SB), Y8
	VFMADD213PD geluC<>+736(SB), Y5, Y8
	VFMADD213PD geluC<>+768(SB), Y5, Y8
	VFMADD213PD geluC<>+800(SB), Y5, Y8
	VFMADD213PD geluC<>+832(SB), Y5, Y8
	VFMADD213PD geluC<>+512(SB), Y5, Y8
	VFMADD213PD geluC<>+480(SB), Y5, Y8
	VFMADD213PD geluC<>+480(SB), Y5, Y8
	// 2ⁿ from the exponent bits
	VCVTPD2DQY Y6, X6
	VPMOVSXDQ X6, Y6
	VPADDQ geluC<>+896(SB), Y6, Y6
	VPSLLQ $52, Y6, Y6
	VMULPD Y6, Y8, Y8                   // e^(−x²/2)
	VMULPD geluC<>+864(SB), Y0, Y0
	VFMADD213PD Y3, Y8, Y0              // Y0 = x·φ(x) + Φ(x)
	VCVTPD2PSY Y0, X0
	VMULPS (DX), X0, X0
	VADDPS (DI), X0, X0
	VMOVUPS X0, (DI)
	ADDQ $16, SI
	ADDQ $16, DI
	ADDQ $16, DX
	DECQ CX
	JNZ  bloop

bdone:
	VZEROUPPER
	RET
