"""Region control in attention (compose.regions): masked cross-attention and bounded self-attention route
exactly, the processor equals the stock one without a control, and the UNet's processors come back.

The routing claim is checked on the processor itself, at every cross-attention layer of a tiny seeded
UNet: perturbing one region's token embeddings must leave the layer's output bit-for-bit unchanged at
every position the region does not reach (zero attention probability there), and change it inside.
The probabilities themselves are read out of a bare diffusers `Attention` whose values are one-hot
vectors and whose projections are identities, so its output *is* the attention map.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from compose.regions.attention import RegionAttnProcessor, RegionControl, region_kwargs, region_processors
from compose.regions.masks import box_coverage, coverage_bias, subject_bias

TEXT_DIM = 16
GRID = 8  # the tiny UNet's sample side: cross-attention runs at 8 x 8 and 4 x 4


def cells_touched(box, side: int) -> torch.Tensor:
    """(side, side) bool: grid cells whose area overlaps the box at all (computed without the library)."""
    x0, y0, x1, y1 = box
    touched = torch.zeros(side, side, dtype=torch.bool)
    for row in range(side):
        for column in range(side):
            overlaps_x = min(x1, (column + 1) / side) - max(x0, column / side) > 1e-9
            overlaps_y = min(y1, (row + 1) / side) - max(y0, row / side) > 1e-9
            touched[row, column] = overlaps_x and overlaps_y
    return touched


# Token layout of the test condition: 2 background tokens (seen everywhere), 2 tokens of region A (a box
# on cell edges), 2 of region B (a box cutting cells), 1 unused slot (seen nowhere).
BOX_A = (0.0, 0.0, 0.5, 0.5)
BOX_B = (0.55, 0.3, 0.95, 0.8)
BACKGROUND, TOKENS_A, TOKENS_B, UNUSED = slice(0, 2), slice(2, 4), slice(4, 6), slice(6, 7)
TOKENS = 7


def routed_coverage(batch: int = 2) -> torch.Tensor:
    coverage = torch.zeros(batch, TOKENS, GRID, GRID)
    coverage[:, BACKGROUND] = 1
    coverage[:, TOKENS_A] = box_coverage(torch.tensor(BOX_A), GRID)
    coverage[:, TOKENS_B] = box_coverage(torch.tensor(BOX_B), GRID)
    return coverage


def routed(coverage=None, subjects=None) -> dict:
    """The UNet's cross_attention_kwargs for a region control."""
    return region_kwargs(RegionControl(coverage=coverage, subjects=subjects))


def record_attention_calls(unet, suffix: str = "attn2"):
    """Forward hooks on every attention layer named ...`suffix` that keep (name, module, hidden_states,
    context, regions, output) per call."""
    calls, handles = [], []
    for name, module in unet.named_modules():
        if name.endswith(suffix):
            def hook(module, args, kwargs, output, name=name):
                hidden = args[0] if args else kwargs["hidden_states"]
                calls.append((name, module, hidden, kwargs.get("encoder_hidden_states"), kwargs.get("regions"), output))
            handles.append(module.register_forward_hook(hook, with_kwargs=True))
    return calls, handles


def attn2_names(unet) -> list[str]:
    return [name for name, _ in unet.named_modules() if name.endswith("attn2")]


def test_a_region_token_changes_nothing_outside_its_region_at_any_cross_attention_layer(unet):
    generator = torch.Generator().manual_seed(1)
    sample = torch.randn(2, 4, GRID, GRID, generator=generator)
    context = torch.randn(2, TOKENS, TEXT_DIM, generator=generator)

    def perturb(tokens: slice) -> torch.Tensor:
        changed = context.clone()
        changed[:, tokens] += 3 * torch.randn(2, tokens.stop - tokens.start, TEXT_DIM, generator=generator)
        return changed

    calls, handles = record_attention_calls(unet)
    with torch.no_grad(), region_processors(unet):
        try:
            unet(sample, 500, encoder_hidden_states=context, cross_attention_kwargs=routed(routed_coverage()))
        finally:
            for handle in handles:
                handle.remove()
        assert sorted(name for name, *_ in calls) == sorted(attn2_names(unet)), "every attn2 layer ran once"
        sides = set()
        for name, module, hidden, layer_context, control, output in calls:
            side = math.isqrt(hidden.shape[1])
            sides.add(side)
            assert isinstance(control, RegionControl), f"{name}: the control reached the layer as its keyword"
            assert torch.equal(module(hidden, encoder_hidden_states=layer_context, regions=control), output), name
            for tokens, box in ((TOKENS_A, BOX_A), (TOKENS_B, BOX_B)):
                inside = cells_touched(box, side).reshape(-1)
                changed = module(hidden, encoder_hidden_states=perturb(tokens), regions=control)
                # Zero probability outside the region: the output there does not move by a single bit.
                assert torch.equal(changed[:, ~inside], output[:, ~inside]), f"{name}: tokens {tokens} leak out"
                shift_inside = (changed[:, inside] - output[:, inside]).abs().amax(dim=-1)
                assert (shift_inside > 1e-4).all(), f"{name}: tokens {tokens} are seen in their region"
            # An unused slot is seen nowhere; background tokens everywhere, inside the regions too.
            assert torch.equal(module(hidden, encoder_hidden_states=perturb(UNUSED), regions=control), output), name
            shift = (module(hidden, encoder_hidden_states=perturb(BACKGROUND), regions=control) - output).abs().amax(dim=-1)
            assert (shift > 1e-4).all(), f"{name}: background tokens are seen at every position"
    assert sides == {GRID, GRID // 2}, "the test covered both attention resolutions"


def probability_readout(tokens: int, queries: int, seed: int = 0):
    """A one-head Attention whose output is its attention map: values are one-hot token indicators and
    the value and output projections are identities, so output[b, q, t] = P(query q attends token t)."""
    from diffusers.models.attention_processor import Attention

    torch.manual_seed(seed)
    attention = Attention(query_dim=tokens, cross_attention_dim=tokens, heads=1, dim_head=tokens)
    with torch.no_grad():
        attention.to_v.weight.copy_(torch.eye(tokens))
        attention.to_out[0].weight.copy_(torch.eye(tokens))
        attention.to_out[0].bias.zero_()
        attention.to_q.weight.mul_(3)  # sharper, more varied attention maps than the default init gives
    context = torch.eye(tokens).expand(1, -1, -1)
    hidden = torch.randn(1, queries, tokens, generator=torch.Generator().manual_seed(seed + 1))
    return attention.requires_grad_(False), hidden, context


def test_attention_probabilities_follow_the_coverage_exactly():
    from diffusers.models.attention_processor import AttnProcessor2_0

    side = 4
    attention, hidden, context = probability_readout(TOKENS, side * side)
    coverage = torch.zeros(1, TOKENS, side, side)
    coverage[:, BACKGROUND] = 1
    coverage[:, TOKENS_A] = box_coverage(torch.tensor(BOX_A), side)
    coverage[:, TOKENS_B] = box_coverage(torch.tensor(BOX_B), side)
    with torch.no_grad():
        stock = AttnProcessor2_0()(attention, hidden, encoder_hidden_states=context)[0]
        routed = RegionAttnProcessor()(attention, hidden, encoder_hidden_states=context,
                                       regions=RegionControl(coverage=coverage))[0]
    torch.testing.assert_close(stock.sum(-1), torch.ones(side * side))  # the readout really is a distribution
    torch.testing.assert_close(routed.sum(-1), torch.ones(side * side))

    flat = coverage[0].reshape(TOKENS, -1).T  # (positions, tokens)
    assert (routed[flat == 0] == 0).all(), "a token gets exactly zero probability where its coverage is zero"
    assert (routed[:, UNUSED] == 0).all()
    assert (routed[:, BACKGROUND] > 0).all(), "background tokens are attended inside and outside regions"
    assert (routed[flat > 0] > 0).all()
    # Relative to background token 0, a token's odds are its stock odds times its coverage: bias = log(coverage).
    expected_odds = flat * stock / stock[:, :1]
    torch.testing.assert_close(routed / routed[:, :1], expected_odds, rtol=1e-5, atol=1e-7)
    fractional = (flat[:, TOKENS_B.start] > 0) & (flat[:, TOKENS_B.start] < 1)
    assert fractional.any(), "box B cuts cells, so some coverage is fractional"


def test_all_ones_coverage_reproduces_the_stock_processor(unet):
    generator = torch.Generator().manual_seed(2)
    sample = torch.randn(2, 4, GRID, GRID, generator=generator)
    context = torch.randn(2, TOKENS, TEXT_DIM, generator=generator)
    with torch.no_grad():
        stock = unet(sample, 300, encoder_hidden_states=context).sample
        with region_processors(unet):
            everywhere = unet(sample, 300, encoder_hidden_states=context,
                              cross_attention_kwargs=routed(torch.ones(2, TOKENS, GRID, GRID))).sample
            unrouted = unet(sample, 300, encoder_hidden_states=context).sample
            empty_control = unet(sample, 300, encoder_hidden_states=context, cross_attention_kwargs=routed()).sample
            with_lora_scale = unet(sample, 300, encoder_hidden_states=context,
                                   cross_attention_kwargs={"scale": 1.0, **routed()}).sample
            routed_prediction = unet(sample, 300, encoder_hidden_states=context,
                                     cross_attention_kwargs=routed(routed_coverage())).sample
    torch.testing.assert_close(everywhere, stock, rtol=1e-5, atol=1e-5)
    assert torch.equal(unrouted, stock), "without a control the processor computes exactly the stock attention"
    assert torch.equal(empty_control, stock) and torch.equal(with_lora_scale, stock)
    assert (routed_prediction - stock).abs().max() > 1e-3, "a real routing changes the prediction"


def test_all_ones_coverage_matches_stock_attention_on_a_bare_layer():
    from diffusers.models.attention_processor import Attention, AttnProcessor2_0

    torch.manual_seed(3)
    attention = Attention(query_dim=32, cross_attention_dim=TEXT_DIM, heads=4, dim_head=8).requires_grad_(False)
    hidden = torch.randn(3, 36, 32)
    context = torch.randn(3, 5, TEXT_DIM)
    processor = RegionAttnProcessor()
    control = RegionControl(coverage=torch.ones(3, 5, 12, 12))  # pooled down to the layer's 6 x 6
    with torch.no_grad():
        torch.testing.assert_close(processor(attention, hidden, encoder_hidden_states=context, regions=control),
                                   AttnProcessor2_0()(attention, hidden, encoder_hidden_states=context),
                                   rtol=1e-5, atol=1e-6)
        # Self-attention (told apart by the module, not its name) ignores the coverage, whatever its token count.
        self_attention = Attention(query_dim=32, heads=4, dim_head=8).requires_grad_(False)
        assert attention.is_cross_attention and not self_attention.is_cross_attention
        torch.testing.assert_close(processor(self_attention, hidden, regions=control),
                                   AttnProcessor2_0()(self_attention, hidden), rtol=1e-5, atol=1e-6)


def test_processors_are_restored_after_the_block_and_after_an_error(unet):
    from diffusers.models.attention_processor import AttnProcessor

    unet.set_attn_processor(AttnProcessor())  # a non-default original, to see it really comes back
    try:
        before = dict(unet.attn_processors)
        assert any(".attn2." in name for name in before) and any(".attn1." in name for name in before)
        with region_processors(unet) as processor:
            # Every layer, self- and cross-attention, takes the one stateless processor (so every layer
            # accepts the regions keyword); the processor itself tells the kinds apart.
            assert isinstance(processor, RegionAttnProcessor)
            assert all(installed is processor for installed in unet.attn_processors.values())
        assert all(unet.attn_processors[name] is stock for name, stock in before.items())

        with pytest.raises(RuntimeError, match="inside the block"):
            with region_processors(unet):
                raise RuntimeError("an error inside the block")
        assert all(unet.attn_processors[name] is stock for name, stock in before.items())
    finally:
        from diffusers.models.attention_processor import AttnProcessor2_0

        unet.set_attn_processor(AttnProcessor2_0())


def test_coverage_that_does_not_fit_the_layer_is_a_clear_error(unet):
    sample = torch.randn(2, 4, GRID, GRID)
    context = torch.randn(2, TOKENS, TEXT_DIM)
    with torch.no_grad(), region_processors(unet):
        with pytest.raises(ValueError, match="text tokens"):
            unet(sample, 10, encoder_hidden_states=context,
                 cross_attention_kwargs=routed(torch.ones(2, TOKENS + 1, GRID, GRID)))
        with pytest.raises(ValueError, match="batch 2"):
            unet(sample, 10, encoder_hidden_states=context, cross_attention_kwargs=routed(torch.ones(1, TOKENS, GRID, GRID)))
        with pytest.raises(ValueError, match="batch of 1"):
            unet(sample, 10, encoder_hidden_states=context,
                 cross_attention_kwargs=routed(subjects=torch.ones(1, 2, GRID, GRID)))


def test_coverage_bias_is_log_coverage_pooled_to_the_layer():
    generator = torch.Generator().manual_seed(4)
    coverage = torch.rand(2, 3, 8, 8, generator=generator)
    coverage[0, 1, :4, :4] = 0  # one whole 2 x 2-pooled quadrant of zeros
    coverage[1, 2] = 1
    bias = coverage_bias(coverage, 16)
    assert bias.shape == (2, 1, 16, 3)
    values = coverage.numpy()
    for batch in range(2):
        for token in range(3):
            for row in range(4):
                for column in range(4):
                    mean = values[batch, token, 2 * row:2 * row + 2, 2 * column:2 * column + 2].mean()
                    got = bias[batch, 0, row * 4 + column, token].item()
                    if mean == 0:
                        assert got == -math.inf
                    else:
                        assert got == pytest.approx(math.log(mean), rel=1e-5, abs=1e-6)
    assert (bias[1, 0, :, 2] == 0).all(), "full coverage adds nothing to the scores"
    assert torch.isneginf(bias[0, 0, [0, 1, 4, 5], 1]).all()
    # At the coverage's own resolution there is no pooling at all.
    same = coverage_bias(coverage, 64)
    torch.testing.assert_close(same[0, 0, :, 0], torch.log(coverage[0, 0].reshape(-1)))


def test_coverage_bias_refuses_non_square_layers():
    with pytest.raises(ValueError, match="square"):
        coverage_bias(torch.ones(1, 2, 4, 4), 12)


def test_box_coverage_is_the_exact_fraction_of_each_pixel():
    coverage = box_coverage(torch.tensor([0.1, 0.25, 0.6, 0.5]), 4)
    # Columns: [0, .25] holds 0.15 of the box's x range -> 0.6; [.25, .5] whole; [.5, .75] holds 0.1 -> 0.4.
    # Rows: only [.25, .5], whole.
    expected = np.zeros((4, 4), dtype=np.float32)
    expected[1] = [0.6, 1.0, 0.4, 0.0]
    np.testing.assert_allclose(coverage.numpy(), expected, atol=1e-6)

    corners = torch.rand(2, 3, 4, generator=torch.Generator().manual_seed(5))
    low, high = torch.minimum(corners[..., :2], corners[..., 2:]), torch.maximum(corners[..., :2], corners[..., 2:])
    boxes = torch.cat([low, high], dim=-1)
    many = box_coverage(boxes, 16)
    assert many.shape == (2, 3, 16, 16)
    assert ((many >= 0) & (many <= 1 + 1e-6)).all()
    areas = (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])
    torch.testing.assert_close(many.sum((-1, -2)) / 256, areas, rtol=1e-4, atol=1e-6)

    aligned = box_coverage(torch.tensor(BOX_A), 8)
    assert torch.equal(aligned, cells_touched(BOX_A, 8).float()), "a box on cell edges covers whole cells"
    assert box_coverage(torch.tensor([0.3, 0.3, 0.3, 0.9]), 8).sum() == 0, "an empty box covers nothing"
    # Pooled to a coarser grid, coverage stays the covered fraction of each coarse cell.
    fine = box_coverage(torch.tensor(BOX_B), 16)
    torch.testing.assert_close(F.avg_pool2d(fine[None, None], 4)[0, 0], box_coverage(torch.tensor(BOX_B), 4),
                               rtol=1e-5, atol=1e-6)


def subject_masks(batch: int = 2) -> torch.Tensor:
    """(batch, 2, GRID, GRID): box A and box B as subject masks."""
    masks = torch.stack([box_coverage(torch.tensor(BOX_A), GRID), box_coverage(torch.tensor(BOX_B), GRID)])
    return masks.expand(batch, -1, -1, -1)


def test_subject_bias_separates_objects_and_nothing_else():
    bias = subject_bias(subject_masks(1), GRID * GRID)[0, 0]  # (L, L)
    # Labels worked out here from the definition: a cell belongs to a subject when over half covered.
    labels = torch.full((GRID * GRID,), -1)
    for index, box in enumerate((BOX_A, BOX_B)):
        labels[(box_coverage(torch.tensor(box), GRID) > 0.5).reshape(-1)] = index
    assert (labels == 0).any() and (labels == 1).any() and (labels == -1).any()
    for query in range(GRID * GRID):
        for key in range(GRID * GRID):
            apart = labels[query] >= 0 and labels[key] >= 0 and labels[query] != labels[key]
            assert bias[query, key].item() == (-math.inf if apart else 0.0)
    assert not torch.isneginf(bias.diagonal()).any(), "every position can attend to itself"


def test_bounded_self_attention_stops_features_flowing_between_objects(unet):
    generator = torch.Generator().manual_seed(6)
    sample = torch.randn(2, 4, GRID, GRID, generator=generator)
    context = torch.randn(2, TOKENS, TEXT_DIM, generator=generator)
    calls, handles = record_attention_calls(unet, suffix="attn1")
    with torch.no_grad(), region_processors(unet):
        try:
            unet(sample, 500, encoder_hidden_states=context, cross_attention_kwargs=routed(subjects=subject_masks()))
        finally:
            for handle in handles:
                handle.remove()
        assert {name for name, *_ in calls} == {n for n, _ in unet.named_modules() if n.endswith("attn1")}
        for name, module, hidden, _, control, output in calls:
            side = math.isqrt(hidden.shape[1])
            labels = {index: (F.adaptive_avg_pool2d(subject_masks(1), side)[0, index] > 0.5).reshape(-1)
                      for index in range(2)}
            if not (labels[0].any() and labels[1].any()):
                continue  # a layer too coarse to hold both objects apart
            # Perturb the features inside object A: inside object B nothing moves; in the background it does.
            changed_hidden = hidden.clone()
            changed_hidden[:, labels[0]] += 3 * torch.randn(2, int(labels[0].sum()), hidden.shape[-1], generator=generator)
            changed = module(changed_hidden, regions=control)
            assert torch.equal(changed[:, labels[1]], output[:, labels[1]]), f"{name}: A's features reach B"
            background = ~(labels[0] | labels[1])
            assert (changed[:, background] - output[:, background]).abs().max() > 1e-4, name
            unbounded_shift = module(changed_hidden)[:, labels[1]] - module(hidden)[:, labels[1]]
            assert unbounded_shift.abs().max() > 1e-4, f"{name}: unbounded, A's features do reach B"


def test_a_separate_softmax_per_group_is_each_captions_own_attention_mixed_by_weight():
    from diffusers.models.attention_processor import Attention, AttnProcessor2_0

    torch.manual_seed(7)
    attention = Attention(query_dim=32, cross_attention_dim=TEXT_DIM, heads=4, dim_head=8).requires_grad_(False)
    hidden = torch.randn(2, 16, 32)
    context = torch.randn(2, 9, TEXT_DIM)  # three groups of three tokens
    stock = AttnProcessor2_0()
    with torch.no_grad():
        alone = [stock(attention, hidden, encoder_hidden_states=context[:, 3 * g:3 * g + 3]) for g in range(3)]
        only_second = torch.zeros(2, 3, 4, 4)
        only_second[:, 1] = 1
        picked = RegionAttnProcessor()(attention, hidden, encoder_hidden_states=context,
                                       regions=RegionControl(groups=only_second, group_length=3))
        torch.testing.assert_close(picked, alone[1], rtol=1e-5, atol=1e-6)
        half = torch.zeros(2, 3, 4, 4)
        half[:, 0], half[:, 2] = 1, 1  # equal weights of groups 0 and 2 everywhere
        mixed = RegionAttnProcessor()(attention, hidden, encoder_hidden_states=context,
                                      regions=RegionControl(groups=half, group_length=3))
        # The output projection is affine, so the mix of outputs is the mix of the groups' own outputs.
        torch.testing.assert_close(mixed, (alone[0] + alone[2]) / 2, rtol=1e-5, atol=1e-5)
