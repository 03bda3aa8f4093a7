"""The Triton kernels of the fused step; imported only when that path runs (see triton_step.py)."""

import triton
import triton.language as tl


@triton.jit
def cells(pid, n, h, w, BLOCK: tl.constexpr):
    cell = pid * BLOCK + tl.arange(0, BLOCK)
    hw = h * w
    return cell, cell < n, cell // hw, (cell % hw) // w, cell % w


@triton.jit
def neighbour(b, y, x, live, o: tl.constexpr, h, w, C: tl.constexpr,
              CIRCULAR: tl.constexpr):
    """Base offsets (channel 0) of neighbour o of each cell in a (B, C, H, W) tensor, and validity."""
    ny = y + (o // 3 - 1)
    nx = x + (o % 3 - 1)
    if CIRCULAR:
        ny = (ny + h) % h
        nx = (nx + w) % w
        inside = live
    else:
        inside = live & (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
    return b * C * h * w + ny * w + nx, inside


@triton.jit
def step_fwd(x_ptr, fire_ptr, w1_ptr, b1_ptr, w2_ptr, b2_ptr, out_ptr, pre_ptr, n, h, w, thr,
             C: tl.constexpr, HID: tl.constexpr, ALPHA: tl.constexpr,
             CIRCULAR: tl.constexpr, PREC: tl.constexpr, BLOCK: tl.constexpr):
    cell, live, b, y, x = cells(tl.program_id(0), n, h, w, BLOCK)
    hw = h * w
    ch = tl.arange(0, C)
    hid = tl.arange(0, HID)
    acc = tl.zeros((BLOCK, HID), tl.float32)
    amax = tl.full((BLOCK,), float("-inf"), tl.float32)
    for o in tl.static_range(9):
        base, inside = neighbour(b, y, x, live, o, h, w, C, CIRCULAR)
        nb = tl.load(x_ptr + base[:, None] + ch[None, :] * hw, mask=inside[:, None], other=0.0)
        acc += tl.dot(nb, tl.load(w1_ptr + (o * C + ch[:, None]) * HID + hid[None, :]),
                      input_precision=PREC)
        if ALPHA >= 0:
            amax = tl.maximum(amax, tl.load(x_ptr + base + ALPHA * hw, mask=inside,
                                            other=float("-inf")))
    hidden = tl.maximum(acc + tl.load(b1_ptr + hid)[None, :], 0.0)
    w2t = tl.load(w2_ptr + ch[None, :] * HID + hid[:, None])  # (HID, C): W2 transposed
    delta = tl.dot(hidden, w2t, input_precision=PREC) + tl.load(b2_ptr + ch)[None, :]
    fire = tl.load(fire_ptr + cell, mask=live, other=0.0)
    centre = (b * C * hw + y * w + x)[:, None] + ch[None, :] * hw
    xc = tl.load(x_ptr + centre, mask=live[:, None], other=0.0)
    tl.store(out_ptr + centre, xc + delta * fire[:, None], mask=live[:, None])
    if ALPHA >= 0:
        tl.store(pre_ptr + cell, (amax > thr).to(tl.int8), mask=live)


@triton.jit
def alive_fwd(x1_ptr, pre_ptr, out_ptr, keep_ptr, n, h, w, thr, C: tl.constexpr,
              ALPHA: tl.constexpr, CIRCULAR: tl.constexpr, BLOCK: tl.constexpr):
    cell, live, b, y, x = cells(tl.program_id(0), n, h, w, BLOCK)
    hw = h * w
    ch = tl.arange(0, C)
    amax = tl.full((BLOCK,), float("-inf"), tl.float32)
    for o in tl.static_range(9):
        base, inside = neighbour(b, y, x, live, o, h, w, C, CIRCULAR)
        amax = tl.maximum(amax, tl.load(x1_ptr + base + ALPHA * hw, mask=inside, other=float("-inf")))
    keep = (amax > thr) & (tl.load(pre_ptr + cell, mask=live, other=0) != 0)
    centre = (b * C * hw + y * w + x)[:, None] + ch[None, :] * hw
    x1 = tl.load(x1_ptr + centre, mask=live[:, None], other=0.0)
    tl.store(out_ptr + centre, tl.where(keep[:, None], x1, 0.0), mask=live[:, None])
    tl.store(keep_ptr + cell, keep.to(tl.int8), mask=live)


@triton.jit
def step_bwd(x_ptr, fire_ptr, g1_ptr, w1_ptr, b1_ptr, w2_ptr, gx_ptr, hidden_ptr, gh_ptr, n, h, w,
             C: tl.constexpr, HID: tl.constexpr, CIRCULAR: tl.constexpr,
             PREC: tl.constexpr, BLOCK: tl.constexpr):
    """Recompute the hidden layer, write it and its gradient, scatter neighbourhood gradients."""
    cell, live, b, y, x = cells(tl.program_id(0), n, h, w, BLOCK)
    hw = h * w
    ch = tl.arange(0, C)
    hid = tl.arange(0, HID)
    acc = tl.zeros((BLOCK, HID), tl.float32)
    for o in tl.static_range(9):
        base, inside = neighbour(b, y, x, live, o, h, w, C, CIRCULAR)
        nb = tl.load(x_ptr + base[:, None] + ch[None, :] * hw, mask=inside[:, None], other=0.0)
        acc += tl.dot(nb, tl.load(w1_ptr + (o * C + ch[:, None]) * HID + hid[None, :]),
                      input_precision=PREC)
    pre = acc + tl.load(b1_ptr + hid)[None, :]
    centre = (b * C * hw + y * w + x)[:, None] + ch[None, :] * hw
    fire = tl.load(fire_ptr + cell, mask=live, other=0.0)
    gd = tl.load(g1_ptr + centre, mask=live[:, None], other=0.0) * fire[:, None]
    w2 = tl.load(w2_ptr + ch[:, None] * HID + hid[None, :])  # (C, HID)
    gh = tl.where(pre > 0, tl.dot(gd, w2, input_precision=PREC), 0.0)
    rows = cell[:, None] * HID + hid[None, :]
    tl.store(hidden_ptr + rows, tl.maximum(pre, 0.0), mask=live[:, None])
    tl.store(gh_ptr + rows, gh, mask=live[:, None])
    for o in tl.static_range(9):
        base, inside = neighbour(b, y, x, live, o, h, w, C, CIRCULAR)
        w1t = tl.load(w1_ptr + (o * C + ch[None, :]) * HID + hid[:, None])  # (HID, C)
        gnb = tl.dot(gh, w1t, input_precision=PREC)
        tl.atomic_add(gx_ptr + base[:, None] + ch[None, :] * hw, gnb, mask=inside[:, None])
