"""Which parts of the model train, and the contrastive loss.

``trainable`` prefixes name parameters (``"s1_projection"``, ``"s2_encoder.layer4"`` ...). During
the frozen-backbone warm-up only the projections train. Frozen BatchNorm layers stay in eval
mode (their running statistics are not updated); a text or location encoder with nothing to
train runs in eval mode too (no dropout).
"""

from __future__ import annotations

import torch
from torch import nn

from closp_core.errors import ConfigError
from closp_core.model import ClospModel, create_model, load_model
from closp_core.train.config import TRAINABLE_GROUPS, TrainConfig, trainable_prefixes

PROJECTIONS = TRAINABLE_GROUPS["projections"]


def build_training_model(config: TrainConfig) -> ClospModel:
    """The starting model: ``model.init`` weights, else a seeded random ``model.variant``."""
    if config.model.init:
        return load_model(config.model.init)
    return create_model(config.model.variant, seed=config.model.seed)


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def trainable_names(model: ClospModel, config: TrainConfig) -> list[str]:
    """Names of the parameters that train (after the warm-up), checked against the model.

    A prefix given by name (not through a group) that matches no parameter is a ConfigError.
    """
    names = [name for name, _ in model.named_parameters()]
    chosen: set[str] = set()
    for item in config.train.trainable:
        for prefix in trainable_prefixes((item,)):
            matched = [n for n in names if _under(n, prefix)]
            if not matched and item not in TRAINABLE_GROUPS:
                raise ConfigError(
                    f"train.trainable: {prefix!r} matches no parameter of {model.config.variant}"
                )
            chosen.update(matched)
    if config.train.freeze_text:
        chosen = {n for n in chosen if not _under(n, "text_model")}
    if not chosen:
        raise ConfigError("train.trainable selects no parameter; nothing would train")
    return [n for n in names if n in chosen]


def set_phase(model: ClospModel, trainable: list[str], warmup: bool) -> int:
    """Set ``requires_grad``: ``trainable`` (only projections while ``warmup``); returns count."""
    wanted = set(trainable)
    count = 0
    for name, param in model.named_parameters():
        on = name in wanted and (not warmup or any(_under(name, p) for p in PROJECTIONS))
        param.requires_grad_(on)
        count += param.numel() if on else 0
    return count


def set_train_mode(model: ClospModel) -> None:
    """Train mode where something trains; frozen BatchNorm / text / location stay in eval."""
    model.train()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.train(any(p.requires_grad for p in module.parameters(recurse=False)))
    for part in ("text_model", "location_encoder"):
        child = getattr(model, part, None)
        if isinstance(child, nn.Module):
            child.train(any(p.requires_grad for p in child.parameters()))


def trained_keys(model: ClospModel, trainable: list[str]) -> list[str]:
    """State-dict keys training can change: the trainable parameters and the buffers of the
    modules that own them (BatchNorm running statistics)."""
    wanted = set(trainable)
    keys: list[str] = []
    for module_name, module in model.named_modules():
        prefix = f"{module_name}." if module_name else ""
        own = [prefix + n for n, _ in module.named_parameters(recurse=False)]
        if any(n in wanted for n in own):
            keys += [n for n in own if n in wanted]
            keys += [prefix + n for n, _ in module.named_buffers(recurse=False)]
    return keys


def same_text_matrix(texts: list[str], device: torch.device) -> torch.Tensor:
    """``(B, B) float32``: 1 where chips i and j have the same training text."""
    ids = {t: i for i, t in enumerate(dict.fromkeys(texts))}
    index = torch.tensor([ids[t] for t in texts], device=device)
    return (index[:, None] == index[None, :]).float()


def clip_loss(
    a: torch.Tensor, b: torch.Tensor, scale: float, same: torch.Tensor | None = None
) -> torch.Tensor:
    """Symmetric CLIP cross-entropy of ``(B, D)`` unit vectors ``a`` and ``b`` (row i pairs).

    Logits = ``scale * a @ b.T`` (in-batch negatives). With ``same`` (``(B, B)``, 1 for pairs
    that count as positives), targets spread evenly over them instead of the diagonal.
    """
    logits = scale * a.float() @ b.float().T
    if same is None:
        target = torch.arange(a.shape[0], device=a.device)
        return (
            nn.functional.cross_entropy(logits, target)
            + nn.functional.cross_entropy(logits.T, target)
        ) / 2
    soft = same / same.sum(dim=1, keepdim=True)
    return (
        nn.functional.cross_entropy(logits, soft) + nn.functional.cross_entropy(logits.T, soft)
    ) / 2
