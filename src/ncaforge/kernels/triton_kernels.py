"""The Triton kernels of the fused step; imported only when that path runs (see triton_step.py).

State tensors are (B, C, H, W) float32; a program handles BLOCK cells of the
flattened B*H*W grid. ``bank`` is the (F, 9) filter bank, ``w1`` the MLP's first
layer (HID, C*F) in interleaved feature order, ``w2`` its last layer (C, HID).
"""

import triton
import triton.language as tl


@triton.jit
def cells(pid, n, h, w, BLOCK: tl.constexpr):
    cell = pid * BLOCK + tl.arange(0, BLOCK)
    hw = h * w
    return cell, cell < n, cell // hw, (cell % hw) // w, cell % w


@triton.jit
def neighbour(b, y, x, live, o: tl.constexpr, h, w, C: tl.constexpr, CIRCULAR: tl.constexpr):
    """Offsets (channel 0) of neighbour o (raster order) of each cell, and whether it is on the grid."""
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
def hidden_pre(x_ptr, bank_ptr, w1_ptr, b1_ptr, b, y, x, live, h, w, C: tl.constexpr, F: tl.constexpr,
               HID: tl.constexpr, CIRCULAR: tl.constexpr, PREC: tl.constexpr, BLOCK: tl.constexpr):
    """First layer before ReLU: sum over filters f of (bank_f * neighbourhood) @ W1_f, plus bias."""
    ch = tl.arange(0, C)
    hid = tl.arange(0, HID)
    acc = tl.zeros((BLOCK, HID), tl.float32)
    for f in tl.static_range(F):
        feat = tl.zeros((BLOCK, C), tl.float32)
        for o in tl.static_range(9):
            base, inside = neighbour(b, y, x, live, o, h, w, C, CIRCULAR)
            nb = tl.load(x_ptr + base[:, None] + ch[None, :] * h * w, mask=inside[:, None], other=0.0)
            feat += tl.load(bank_ptr + f * 9 + o) * nb
        w1f = tl.load(w1_ptr + hid[None, :] * (C * F) + ch[:, None] * F + f)  # (C, HID)
        acc += tl.dot(feat, w1f, input_precision=PREC)
    return acc + tl.load(b1_ptr + hid)[None, :]


@triton.jit
def step_fwd(x_ptr, fire_ptr, bank_ptr, w1_ptr, b1_ptr, w2_ptr, b2_ptr, out_ptr, pre_ptr, n, h, w, thr,
             C: tl.constexpr, F: tl.constexpr, HID: tl.constexpr, ALPHA: tl.constexpr,
             CIRCULAR: tl.constexpr, PREC: tl.constexpr, BLOCK: tl.constexpr):
    """x1 = x + fire * MLP(perceive(x)), and the pre-update alive test (when ALPHA >= 0)."""
    cell, live, b, y, x = cells(tl.program_id(0), n, h, w, BLOCK)
    ch = tl.arange(0, C)
    hid = tl.arange(0, HID)
    hidden = tl.maximum(hidden_pre(x_ptr, bank_ptr, w1_ptr, b1_ptr, b, y, x, live, h, w, C, F, HID,
                                   CIRCULAR, PREC, BLOCK), 0.0)
    w2t = tl.load(w2_ptr + ch[None, :] * HID + hid[:, None])  # (HID, C)
    delta = tl.dot(hidden, w2t, input_precision=PREC) + tl.load(b2_ptr + ch)[None, :]
    fire = tl.load(fire_ptr + cell, mask=live, other=0.0)
    centre = (b * C * h * w + y * w + x)[:, None] + ch[None, :] * h * w
    xc = tl.load(x_ptr + centre, mask=live[:, None], other=0.0)
    tl.store(out_ptr + centre, xc + delta * fire[:, None], mask=live[:, None])
    if ALPHA >= 0:
        amax = tl.full((BLOCK,), float("-inf"), tl.float32)
        for o in tl.static_range(9):
            base, inside = neighbour(b, y, x, live, o, h, w, C, CIRCULAR)
            amax = tl.maximum(amax, tl.load(x_ptr + base + ALPHA * h * w, mask=inside, other=float("-inf")))
        tl.store(pre_ptr + cell, (amax > thr).to(tl.int8), mask=live)


@triton.jit
def alive_fwd(x1_ptr, pre_ptr, out_ptr, keep_ptr, n, h, w, thr, C: tl.constexpr, ALPHA: tl.constexpr,
              CIRCULAR: tl.constexpr, BLOCK: tl.constexpr):
    """Clear cells not alive before or after the update; record which were kept."""
    cell, live, b, y, x = cells(tl.program_id(0), n, h, w, BLOCK)
    ch = tl.arange(0, C)
    amax = tl.full((BLOCK,), float("-inf"), tl.float32)
    for o in tl.static_range(9):
        base, inside = neighbour(b, y, x, live, o, h, w, C, CIRCULAR)
        amax = tl.maximum(amax, tl.load(x1_ptr + base + ALPHA * h * w, mask=inside, other=float("-inf")))
    keep = (amax > thr) & (tl.load(pre_ptr + cell, mask=live, other=0) != 0)
    centre = (b * C * h * w + y * w + x)[:, None] + ch[None, :] * h * w
    x1 = tl.load(x1_ptr + centre, mask=live[:, None], other=0.0)
    tl.store(out_ptr + centre, tl.where(keep[:, None], x1, 0.0), mask=live[:, None])
    tl.store(keep_ptr + cell, keep.to(tl.int8), mask=live)


@triton.jit
def step_bwd(x_ptr, fire_ptr, g1_ptr, bank_ptr, w1_ptr, b1_ptr, w2_ptr, hidden_ptr, gh_ptr, gfeat_ptr,
             n, h, w, C: tl.constexpr, F: tl.constexpr, HID: tl.constexpr, CIRCULAR: tl.constexpr,
             PREC: tl.constexpr, BLOCK: tl.constexpr):
    """Recompute the hidden layer; write it, its gradient and the features' gradient, per cell."""
    cell, live, b, y, x = cells(tl.program_id(0), n, h, w, BLOCK)
    ch = tl.arange(0, C)
    hid = tl.arange(0, HID)
    pre = hidden_pre(x_ptr, bank_ptr, w1_ptr, b1_ptr, b, y, x, live, h, w, C, F, HID, CIRCULAR, PREC, BLOCK)
    fire = tl.load(fire_ptr + cell, mask=live, other=0.0)
    centre = (b * C * h * w + y * w + x)[:, None] + ch[None, :] * h * w
    gd = tl.load(g1_ptr + centre, mask=live[:, None], other=0.0) * fire[:, None]
    w2 = tl.load(w2_ptr + ch[:, None] * HID + hid[None, :])  # (C, HID)
    gh = tl.where(pre > 0, tl.dot(gd, w2, input_precision=PREC), 0.0)
    rows = cell[:, None] * HID + hid[None, :]
    tl.store(hidden_ptr + rows, tl.maximum(pre, 0.0), mask=live[:, None])
    tl.store(gh_ptr + rows, gh, mask=live[:, None])
    for f in tl.static_range(F):
        w1ft = tl.load(w1_ptr + hid[:, None] * (C * F) + ch[None, :] * F + f)  # (HID, C)
        gfeat = tl.dot(gh, w1ft, input_precision=PREC)
        tl.store(gfeat_ptr + cell[:, None] * (C * F) + ch[None, :] * F + f, gfeat, mask=live[:, None])
