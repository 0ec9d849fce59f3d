"""GLEAM-X explainer over a Hugging Face vision-language model, fine-tuned with LoRA."""

import copy
import json
import logging
import os
import os.path as osp
import re
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModel

from gleamkit.registry import EXPLAINERS, MODELS

__all__ = [
    'HuggingFaceVLMExplainer',
    'get_pixel_budget',
    'set_pixel_budget',
    'read_explainer_record',
    'merge_lora_adapter',
    'EXPLAINER_RECORD',
    'LORA_PRESETS',
]

#: File written next to a saved adapter: the base model, the pixel budget and the
#: chat settings the adapter was trained with.
EXPLAINER_RECORD = 'gleamkit_explainer.json'

#: ``lora.target_modules`` presets, restricted to the language model (never the
#: vision tower, the projector or ``lm_head``).
LORA_PRESETS = {
    'attention': ('q_proj', 'k_proj', 'v_proj', 'o_proj'),
    'all-linear': None,  # every nn.Linear of the language model
}

#: The default adapter: the paper's typical Qwen2.5-VL LoRA (alpha = 2 x rank).
DEFAULT_LORA = dict(r=16, lora_alpha=32, lora_dropout=0.05, target_modules='attention')

# Attribute names of the parts of common VLMs (Qwen2/2.5-VL, LLaVA, Idefics3, PaliGemma, ...).
_LANGUAGE_MODEL_NAMES = ('language_model', 'text_model')
_VISION_TOWER_NAMES = ('visual', 'vision_tower', 'vision_model')
_PROJECTOR_NAMES = ('merger', 'multi_modal_projector', 'connector', 'mm_projector')

_DTYPES = {
    'bfloat16': torch.bfloat16,
    'bf16': torch.bfloat16,
    'float16': torch.float16,
    'fp16': torch.float16,
    'half': torch.float16,
    'float32': torch.float32,
    'fp32': torch.float32,
    'float': torch.float32,
}


# --------------------------------------------------------------------- helpers
def resolve_torch_dtype(torch_dtype: Union[str, torch.dtype, None]) -> torch.dtype:
    """``'auto'``: bf16 on a CUDA device that supports it, else fp32."""
    if isinstance(torch_dtype, torch.dtype):
        return torch_dtype
    if torch_dtype in (None, 'auto'):
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    key = str(torch_dtype).replace('torch.', '')
    if key not in _DTYPES:
        raise ValueError(
            f'torch_dtype={torch_dtype!r}: expected "auto" or one of {sorted(set(_DTYPES))}'
        )
    return _DTYPES[key]


def get_pixel_budget(image_processor) -> Tuple[Optional[int], Optional[int]]:
    """``(min_pixels, max_pixels)`` of a Qwen2-VL-style image processor (else ``None``)."""
    size = getattr(image_processor, 'size', None)
    if size is not None:
        get = size.get if isinstance(size, dict) else (lambda k: getattr(size, k, None))
        lo, hi = get('shortest_edge'), get('longest_edge')
        if (
            lo is not None
            and hi is not None
            and 'height' not in (size if isinstance(size, dict) else {})
        ):
            return int(lo), int(hi)
    lo = getattr(image_processor, 'min_pixels', None)
    hi = getattr(image_processor, 'max_pixels', None)
    if lo is not None and hi is not None:
        return int(lo), int(hi)
    return None, None


def set_pixel_budget(image_processor, min_pixels: int, max_pixels: int) -> None:
    """Set the pixel budget of a Qwen2-VL-style image processor.

    Raises ``ValueError`` for a processor that has no pixel budget (fixed-size
    image processors such as LLaVA's) or for an empty range.
    """
    if get_pixel_budget(image_processor) == (None, None):
        raise ValueError(
            f'{type(image_processor).__name__} has no pixel budget (min_pixels/max_pixels are '
            'for Qwen2-VL-style processors that resize to a pixel count); leave them None'
        )
    if not 0 < int(min_pixels) <= int(max_pixels):
        raise ValueError(
            f'pixel budget needs 0 < min_pixels <= max_pixels, got '
            f'min_pixels={min_pixels}, max_pixels={max_pixels}'
        )
    min_pixels, max_pixels = int(min_pixels), int(max_pixels)
    size = getattr(image_processor, 'size', None)
    if size is not None:
        if isinstance(size, dict):
            new = dict(size)
        else:  # transformers 5: SizeDict
            new = {k: v for k, v in vars(size).items() if v is not None}
        new['shortest_edge'], new['longest_edge'] = min_pixels, max_pixels
        for key in ('min_pixels', 'max_pixels'):
            new.pop(key, None)
        try:
            image_processor.size = type(size)(**new)
        except TypeError:
            image_processor.size = new
    for key, value in (('min_pixels', min_pixels), ('max_pixels', max_pixels)):
        if hasattr(image_processor, key):
            setattr(image_processor, key, value)
    if get_pixel_budget(image_processor) != (min_pixels, max_pixels):
        raise RuntimeError(f'could not set the pixel budget of {type(image_processor).__name__}')


def read_explainer_record(adapter_path: str) -> Optional[dict]:
    """The :data:`EXPLAINER_RECORD` saved next to an adapter (``None`` if absent)."""
    path = osp.join(adapter_path, EXPLAINER_RECORD)
    if not osp.isfile(path):
        return None
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def _find_submodule(model: torch.nn.Module, names: Sequence[str]) -> Optional[str]:
    """Qualified name of the first (shallowest) submodule whose last name is in ``names``."""
    found = [name for name, _ in model.named_modules() if name.rsplit('.', 1)[-1] in names]
    return min(found, key=lambda n: n.count('.')) if found else None


def _lora_target_regex(model: torch.nn.Module, target_modules) -> Union[str, list]:
    """Translate a :data:`LORA_PRESETS` name into a regex over the language model."""
    if not isinstance(target_modules, str) or target_modules not in LORA_PRESETS:
        return target_modules
    prefix = _find_submodule(model, _LANGUAGE_MODEL_NAMES)
    if prefix is None:
        raise ValueError(
            f'lora.target_modules={target_modules!r} restricts LoRA to the language model, but '
            f'{type(model).__name__} has no submodule named one of {_LANGUAGE_MODEL_NAMES}; '
            'give target_modules as a list of module names or a regex instead'
        )
    suffixes = LORA_PRESETS[target_modules]
    if suffixes is None:
        suffixes = sorted(
            {
                name.rsplit('.', 1)[-1]
                for name, module in model.named_modules()
                if name.startswith(prefix + '.') and isinstance(module, torch.nn.Linear)
            }
        )
    return rf'{re.escape(prefix)}\..*\.({"|".join(map(re.escape, suffixes))})'


def _resolve_model_path(name_or_path: str) -> str:
    from .tiny_models import resolve_tiny_model

    return resolve_tiny_model(name_or_path) or name_or_path


# ------------------------------------------------------------------ the model
@EXPLAINERS.register_module()
class HuggingFaceVLMExplainer(BaseModel):
    """GLEAM-X: a Hugging Face VLM that matches and explains (query, satellite) pairs.

    Loads any image-text-to-text model (``AutoModelForImageTextToText`` +
    ``AutoProcessor``) by hub name (``'Qwen/Qwen2.5-VL-3B-Instruct'``), local path
    or gleamkit's offline tiny name (``'gleamkit/tiny-qwen2.5-vl'``), adds a LoRA
    adapter (peft) and trains it on the answer tokens of chat-formatted samples
    (collation in :class:`VLMDataPreprocessor`).

    Modes of ``forward``:
        ``'loss'``: ``{'loss': cross-entropy over the answer tokens}``.
        ``'predict'``: generates an answer per sample; sets ``pred_text`` and
        ``pred_label`` (``parse_verdict``: 1 / 0 / -1 unparseable). The first
        batch warns when ``max_new_tokens`` is shorter than its target answers
        (:meth:`check_generation_budget`).
        ``'tensor'``: the logits ``(B, L, vocab)``.

    Checkpoints: ``state_dict()`` holds only the trainable parameters (the LoRA
    weights) plus the pixel budget as extra state, so mmengine's checkpoints stay
    small and ``--resume`` works with the optimizer state; loading tolerates the
    absent frozen base weights but fails on missing trainable ones.
    :meth:`save_adapter` writes the peft adapter (safetensors) plus
    :data:`EXPLAINER_RECORD`; ``LoRACheckpointHook`` calls it during training.

    Args:
        model_name_or_path (str): hub name, local directory or tiny model name.
        lora (dict, optional): ``peft.LoraConfig`` keyword arguments;
            ``target_modules`` may be ``'attention'`` (q/k/v/o of the language
            model), ``'all-linear'`` (every linear layer of the language model), or
            anything peft accepts (list of names, regex). ``None``: no adapter (the
            base model, frozen: zero-shot evaluation). Defaults to
            ``dict(r=16, lora_alpha=32, lora_dropout=0.05, target_modules='attention')``.
        adapter_path (str, optional): a saved adapter to start from; its record's
            pixel budget is checked/applied. Its own ``adapter_config.json`` defines
            the adapter: ``lora`` then only says whether it trains further (a dict)
            or stays frozen (``None``, inference). Defaults to None.
        freeze_vision_tower (bool): keep the vision encoder frozen; ``False``
            trains a full copy of it with the adapter (peft ``modules_to_save``).
            Defaults to True.
        freeze_projector (bool): keep the vision-language projector frozen;
            ``False`` trains a full copy of it with the adapter. Defaults to True.
        torch_dtype (str | torch.dtype): ``'auto'`` (bf16 on CUDA with bf16
            support, else fp32), ``'bfloat16'``, ``'float16'`` or ``'float32'``.
            Defaults to ``'auto'``.
        attn_implementation (str, optional): ``'sdpa'``, ``'flash_attention_2'``, ...
            Defaults to None (transformers' choice).
        gradient_checkpointing (bool): recompute activations in backward.
            Defaults to False.
        min_pixels (int, optional): the image processor's pixel budget, lower
            bound (Qwen2-VL-style processors). Applied to training and inference,
            saved with the adapter and checked when the adapter is loaded.
            Defaults to None (the processor's).
        max_pixels (int, optional): the same, upper bound. Defaults to None.
        generation (dict, optional): ``generate`` keyword arguments. Defaults to
            None (``dict(max_new_tokens=256, do_sample=False)``, greedy).
        trust_remote_code (bool): passed to ``from_pretrained``. Defaults to False.
        revision (str, optional): passed to ``from_pretrained``. Defaults to None.
        model_kwargs (dict, optional): more model ``from_pretrained`` arguments.
            Defaults to None.
        processor_kwargs (dict, optional): more processor ``from_pretrained``
            arguments. Defaults to None.
        save_frozen_weights (bool): put the frozen base weights in ``state_dict()``
            too. Defaults to False.
        answer_mode (str, optional): ``'label'`` or ``'explanation'``: where
            :meth:`score_batch` reads the verdict (see
            :mod:`~gleamkit.models.explainers.verdict_scoring`). Defaults to None
            (from each pair's prompt: the label-only prompts ask for yes or no).
        match_threshold (float): ``scored_label = p_match >= match_threshold``.
            Defaults to 0.5.
        score_verdicts (bool): ``predict`` and :meth:`explain_batch` also score
            the verdict (``p_match``, ``scored_label``). Defaults to True.
        verdict_candidates (dict, optional): ``{lang: {1: [match texts], 0: [no-match
            texts]}}`` replacing the training data's verdict words (for a model
            fine-tuned on other answers). Defaults to None (the training data's).
        data_preprocessor (dict | nn.Module, optional): Defaults to None
            (``dict(type='VLMDataPreprocessor')``).
        vision_tower (dict, optional): replace a Qwen2-VL-style model's vision
            tower by a frozen ImageNet CNN (``PretrainedCNNVisionTower`` arguments:
            ``backbone``, ``input_scale``, ``projector_hidden``); its projector
            trains with ``freeze_projector=False``. Recorded next to the adapter:
            loading an adapter applies the recorded tower. Defaults to None (the
            model's own tower).
        init_cfg (dict, optional): mmengine's initialisation config. Defaults to
            None.
    """

    def __init__(
        self,
        model_name_or_path: str,
        lora: Optional[dict] = DEFAULT_LORA,
        adapter_path: Optional[str] = None,
        freeze_vision_tower: bool = True,
        freeze_projector: bool = True,
        torch_dtype: Union[str, torch.dtype] = 'auto',
        attn_implementation: Optional[str] = None,
        gradient_checkpointing: bool = False,
        min_pixels: Optional[int] = None,
        max_pixels: Optional[int] = None,
        generation: Optional[dict] = None,
        trust_remote_code: bool = False,
        revision: Optional[str] = None,
        model_kwargs: Optional[dict] = None,
        processor_kwargs: Optional[dict] = None,
        save_frozen_weights: bool = False,
        answer_mode: Optional[str] = None,
        match_threshold: float = 0.5,
        score_verdicts: bool = True,
        verdict_candidates: Optional[dict] = None,
        data_preprocessor: Optional[Union[dict, torch.nn.Module]] = None,
        vision_tower: Optional[dict] = None,
        init_cfg: Optional[dict] = None,
    ):
        if data_preprocessor is None:
            data_preprocessor = dict(type='VLMDataPreprocessor')
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        from transformers import AutoModelForImageTextToText, AutoProcessor

        if (min_pixels is None) != (max_pixels is None):
            raise ValueError(
                'set both min_pixels and max_pixels (the pixel budget), or neither; '
                f'got min_pixels={min_pixels}, max_pixels={max_pixels}'
            )
        if answer_mode not in (None, 'label', 'explanation'):
            raise ValueError(
                f"answer_mode={answer_mode!r}: expected None, 'label' or 'explanation'"
            )
        if not 0.0 <= float(match_threshold) <= 1.0:
            raise ValueError(f'match_threshold={match_threshold!r}: expected a value in [0, 1]')
        self.answer_mode = answer_mode
        self.match_threshold = float(match_threshold)
        self.score_verdicts = score_verdicts
        self.custom_candidates = copy.deepcopy(verdict_candidates) if verdict_candidates else None
        self.model_name_or_path = model_name_or_path
        self.save_frozen_weights = save_frozen_weights
        self.generation = dict(max_new_tokens=256, do_sample=False)
        self.generation.update(generation or {})
        self._budget_checked = False
        local_path = _resolve_model_path(model_name_or_path)
        hub_kwargs = dict(trust_remote_code=trust_remote_code)
        if revision is not None:
            hub_kwargs['revision'] = revision

        # ---- processor and the pixel budget (config > adapter record > processor)
        self.processor = AutoProcessor.from_pretrained(
            local_path, **hub_kwargs, **(processor_kwargs or {})
        )
        record = read_explainer_record(adapter_path) if adapter_path else None
        self._pixel_budget_explicit = min_pixels is not None
        if min_pixels is not None:
            self._check_recorded_budget(record, (min_pixels, max_pixels), adapter_path)
            set_pixel_budget(self.processor.image_processor, min_pixels, max_pixels)
        elif record is not None and record.get('min_pixels') is not None:
            set_pixel_budget(
                self.processor.image_processor, record['min_pixels'], record['max_pixels']
            )
            self._pixel_budget_explicit = True
        elif adapter_path is not None:
            warnings.warn(
                f'adapter {adapter_path!r} has no {EXPLAINER_RECORD}: its pixel budget '
                'cannot be checked; make sure min_pixels/max_pixels match training'
            )

        # ---- the model
        self.torch_dtype = resolve_torch_dtype(torch_dtype)
        kwargs = dict(hub_kwargs, dtype=self.torch_dtype, **(model_kwargs or {}))
        if attn_implementation is not None:
            kwargs['attn_implementation'] = attn_implementation
        model = AutoModelForImageTextToText.from_pretrained(local_path, **kwargs)
        self.vision_tower_cfg = self._apply_vision_tower(model, vision_tower, record)
        if gradient_checkpointing:
            # non-reentrant: gradients reach the adapters though the frozen inputs need none
            if hasattr(model, 'activation_checkpointing_enable'):  # transformers >= 5.x
                model.activation_checkpointing_enable(
                    activation_checkpointing_kwargs=dict(use_reentrant=False)
                )
            else:
                model.gradient_checkpointing_enable(
                    gradient_checkpointing_kwargs=dict(use_reentrant=False)
                )
            model.config.use_cache = False
        self.vision_tower_name = _find_submodule(model, _VISION_TOWER_NAMES)
        self.projector_name = _find_submodule(model, _PROJECTOR_NAMES)
        model = self._add_adapter(model, lora, adapter_path, freeze_vision_tower, freeze_projector)
        self.model = model
        self.lora_cfg = copy.deepcopy(dict(lora)) if lora is not None else None

        eos = self.generation.get('eos_token_id', model.generation_config.eos_token_id)
        if eos is None:
            eos = self.processor.tokenizer.eos_token_id
        eos = [eos] if isinstance(eos, int) else list(eos or [])
        self.data_preprocessor.set_processor(self.processor, end_of_turn_ids=eos)
        self.register_load_state_dict_post_hook(self._check_loaded_keys)

    def init_weights(self) -> None:
        """Nothing to initialise: the weights come from ``from_pretrained`` and peft.

        The Runner calls ``init_weights`` before training; mmengine's default would
        call Hugging Face's ``init_weights`` on the wrapped model, which redraws the
        LoRA weights (B no longer zero: the adapter would start as noise, and a
        loaded adapter would be lost).
        """
        self._is_init = True

    # ------------------------------------------------------------------ adapter
    def _add_adapter(self, model, lora, adapter_path, freeze_vision_tower, freeze_projector):
        from peft import LoraConfig, PeftModel, get_peft_model

        for param in model.parameters():
            param.requires_grad_(False)
        if adapter_path is not None:
            return PeftModel.from_pretrained(model, adapter_path, is_trainable=lora is not None)
        if lora is None:
            return model
        lora = dict(lora)
        lora['target_modules'] = _lora_target_regex(model, lora.get('target_modules', 'attention'))
        to_save = list(lora.pop('modules_to_save', None) or [])
        if not freeze_vision_tower and self.vision_tower_name:
            to_save.append(self.vision_tower_name)
        elif not freeze_projector and self.projector_name:
            to_save.append(self.projector_name)
        if to_save:
            lora['modules_to_save'] = to_save
        model = get_peft_model(model, LoraConfig(**lora))
        if not freeze_vision_tower and freeze_projector and self.projector_name:
            # the trainable copy of the vision tower contains the projector: keep it frozen
            for name, param in model.named_parameters():
                if (
                    'modules_to_save' in name
                    and f'.{self.projector_name.rsplit(".", 1)[-1]}.' in name
                ):
                    param.requires_grad_(False)
        return model

    @property
    def is_peft(self) -> bool:
        from peft import PeftModel

        return isinstance(self.model, PeftModel)

    @property
    def pixel_budget(self) -> Tuple[Optional[int], Optional[int]]:
        """``(min_pixels, max_pixels)`` in use (``(None, None)`` without one)."""
        return get_pixel_budget(self.processor.image_processor)

    def explainer_record(self) -> dict:
        """What :meth:`save_adapter` writes to :data:`EXPLAINER_RECORD`."""
        from gleamkit import __version__

        lo, hi = self.pixel_budget
        return dict(
            base_model=self.model_name_or_path,
            min_pixels=lo,
            max_pixels=hi,
            system_prompt=self.data_preprocessor.system_prompt,
            torch_dtype=str(self.torch_dtype).replace('torch.', ''),
            vision_tower=self.vision_tower_cfg,
            gleamkit_version=__version__,
        )

    def _apply_vision_tower(self, model, vision_tower, record) -> Optional[dict]:
        """Install the configured (else the adapter's recorded) pretrained vision tower."""
        from .pretrained_vision_tower import replace_vision_tower, vision_tower_config

        cfg = vision_tower_config(vision_tower)
        recorded = (record or {}).get('vision_tower')
        if cfg is not None and recorded is not None and cfg != recorded:
            raise ValueError(
                f'vision_tower mismatch: the config asks for {cfg}, but the adapter was trained '
                f'with {recorded}; remove vision_tower from the config to use the recorded one'
            )
        cfg = cfg if cfg is not None else recorded
        if cfg is not None:
            replace_vision_tower(model, self.processor.image_processor, **cfg)
        return cfg

    def _check_recorded_budget(self, record, budget, where) -> None:
        if record is None or record.get('min_pixels') is None:
            return
        recorded = (record['min_pixels'], record['max_pixels'])
        if tuple(budget) != recorded:
            raise ValueError(
                f'pixel budget mismatch: the config asks for min_pixels={budget[0]}, '
                f'max_pixels={budget[1]}, but {where} was trained with min_pixels='
                f'{recorded[0]}, max_pixels={recorded[1]}. Training and inference must use '
                'the same budget: remove min_pixels/max_pixels from the config (the recorded '
                'budget is then used) or set them to the recorded values.'
            )

    def save_adapter(self, save_dir: str) -> str:
        """Write the peft adapter (safetensors) and :data:`EXPLAINER_RECORD` to ``save_dir``."""
        if not self.is_peft:
            raise RuntimeError('this explainer has no LoRA adapter to save (lora=None)')
        os.makedirs(save_dir, exist_ok=True)
        self.model.save_pretrained(save_dir, safe_serialization=True)
        with open(osp.join(save_dir, EXPLAINER_RECORD), 'w', encoding='utf-8') as f:
            json.dump(self.explainer_record(), f, indent=2, ensure_ascii=False)
        return save_dir

    # -------------------------------------------------- checkpoints (state dict)
    def get_extra_state(self) -> dict:
        lo, hi = self.pixel_budget
        return dict(min_pixels=lo, max_pixels=hi)

    def set_extra_state(self, state: Any) -> None:
        if not isinstance(state, dict) or state.get('min_pixels') is None:
            return
        recorded = (state['min_pixels'], state['max_pixels'])
        if recorded == self.pixel_budget:
            return
        if self._pixel_budget_explicit:
            self._check_recorded_budget(state, self.pixel_budget, 'the checkpoint')
        set_pixel_budget(self.processor.image_processor, *recorded)
        print_log(
            f'pixel budget set from the checkpoint: min_pixels={recorded[0]}, '
            f'max_pixels={recorded[1]}',
            logger='current',
        )

    def _trainable_names(self) -> set:
        return {name for name, p in self.named_parameters() if p.requires_grad}

    def state_dict(self, *args, destination=None, prefix: str = '', keep_vars: bool = False):
        """Everything but the frozen parameters: LoRA weights, buffers, the pixel budget."""
        full = super().state_dict(
            *args, destination=destination, prefix=prefix, keep_vars=keep_vars
        )
        if self.save_frozen_weights:
            return full
        frozen = {prefix + name for name, p in self.named_parameters() if not p.requires_grad}
        for key in [k for k in full if k in frozen]:
            del full[key]
        return full

    @staticmethod
    def _check_loaded_keys(module: 'HuggingFaceVLMExplainer', incompatible) -> None:
        trainable = module._trainable_names()
        missing = list(incompatible.missing_keys)
        incompatible.missing_keys.clear()
        # frozen base weights (and buffers, rebuilt with the model) are not in our
        # checkpoints by design; trainable weights must be
        incompatible.missing_keys.extend(k for k in missing if k in trainable)
        absent = list(incompatible.missing_keys)
        if absent or incompatible.unexpected_keys:
            raise RuntimeError(
                f'checkpoint does not fit this explainer: {len(absent)} trainable parameter(s) '
                f'missing (e.g. {absent[:3]}), {len(incompatible.unexpected_keys)} unexpected '
                f'key(s) (e.g. {list(incompatible.unexpected_keys)[:3]}). Was it saved with a '
                'different base model or LoRA config (r, target_modules, modules_to_save)?'
            )

    # ------------------------------------------------------------------ modes
    def _model_inputs(self, inputs: dict) -> dict:
        dtype = self.torch_dtype
        return {
            k: v.to(dtype) if isinstance(v, torch.Tensor) and v.is_floating_point() else v
            for k, v in inputs.items()
        }

    def forward(
        self,
        inputs: dict,
        data_samples: Optional[list] = None,
        mode: str = 'tensor',
        raw_inputs: Optional[list] = None,
    ):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples, raw_inputs=raw_inputs)
        if mode == 'tensor':
            batch = self._model_inputs({k: v for k, v in inputs.items() if k != 'labels'})
            return self.model(**batch, use_cache=False).logits
        raise RuntimeError(f'Invalid mode {mode!r}: expected "tensor", "loss" or "predict"')

    def loss(self, inputs: dict, data_samples: Optional[list] = None) -> Dict[str, torch.Tensor]:
        if 'labels' not in inputs:
            raise ValueError(
                'loss mode needs labels: the VLMDataPreprocessor adds them when '
                'called with training=True (the train step does)'
            )
        out = self.model(**self._model_inputs(inputs), use_cache=False)
        return dict(loss=out.loss)

    def generation_config(self):
        """The model's generation config updated with ``generation`` (greedy by default)."""
        config = copy.deepcopy(self.model.generation_config)
        config.update(**self.generation)
        if not config.do_sample:  # no sampling knobs left over from the hub's defaults
            config.temperature, config.top_p, config.top_k = None, None, None
        if config.pad_token_id is None:
            config.pad_token_id = self.processor.tokenizer.pad_token_id
        return config

    @torch.no_grad()
    def generate_texts(self, inputs: dict) -> List[str]:
        """Generate from a left-padded generation batch; return the decoded answers."""
        inputs = {k: v for k, v in inputs.items() if k != 'labels'}
        out = self.model.generate(
            **self._model_inputs(inputs), generation_config=self.generation_config()
        )
        new_tokens = out[:, inputs['input_ids'].shape[1] :]
        texts = self.processor.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        return [t.strip() for t in texts]

    def check_generation_budget(self, data_samples: Optional[list]) -> Optional[str]:
        """Warn (once) when ``max_new_tokens`` is shorter than the target answers.

        An answer cut off before its closing verdict reads as unparseable: with the
        tiny demo's 64 new tokens against explanations of 233-673 tokens, every
        answer was. Called on the first generation batch of the model (the start of
        an evaluation) with the lengths the data preprocessor measured
        (``answer_tokens``); returns the message, or None when the budget is enough.
        """
        if self._budget_checked or not data_samples:
            return None
        lengths = [
            int(s.metainfo['answer_tokens'])
            for s in data_samples
            if 'answer_tokens' in getattr(s, 'metainfo', {})
        ]
        if not lengths:
            return None
        self._budget_checked = True
        budget = self.generation.get('max_new_tokens')
        longer = [n for n in lengths if budget is not None and n > budget]
        if not longer:
            return None
        message = (
            f'{type(self).__name__}: generation.max_new_tokens={budget} is shorter than the '
            f'target answers: {len(longer)} of the {len(lengths)} in the first evaluation batch '
            f'are longer ({min(lengths)}-{max(lengths)} tokens). Answers are cut off before '
            'their verdict, which then reads as unparseable. Raise model.generation.'
            f'max_new_tokens (to at least {max(lengths)}), or train and evaluate label-only '
            "(answer_mode='label')."
        )
        print_log(message, logger='current', level=logging.WARNING)
        return message

    def predict(
        self, inputs: dict, data_samples: Optional[list] = None, raw_inputs: Optional[list] = None
    ) -> list:
        """Generate; set ``pred_text`` and ``pred_label`` (the parsed free-text verdict)
        and, with ``score_verdicts`` and the per-sample ``raw_inputs`` the data
        preprocessor passes, ``p_match`` and ``scored_label``."""
        from gleamkit.evaluation.explanation.verdict import parse_verdict

        self.check_generation_budget(data_samples)
        texts = self.generate_texts(inputs)
        if data_samples is None:
            from gleamkit.structures import ExplanationDataSample

            data_samples = [ExplanationDataSample() for _ in texts]
        for sample, text in zip(data_samples, texts):
            sample.pred_text = text
            sample.pred_label = int(parse_verdict(text, lang=sample.metainfo.get('lang')))
        if self.score_verdicts and raw_inputs is not None and len(raw_inputs) == len(texts):
            pairs = [
                (item['images'][0], item['images'][1], item['prompt'], s.metainfo.get('lang'))
                for item, s in zip(raw_inputs, data_samples)
            ]
            scores = self.score_batch(pairs, batch_size=len(pairs), texts=texts)
            for sample, p in zip(data_samples, scores):
                sample.p_match = float(p)
                sample.scored_label = int(p >= self.match_threshold)
        return data_samples

    def explain(
        self, query_img, satellite_img, prompt: str, lang: Optional[str] = None
    ) -> Dict[str, Any]:
        """Explain one pair: ``dict(text, label=1/0/-1, p_match, scored_label)``."""
        return self.explain_batch([(query_img, satellite_img, prompt, lang)])[0]

    def _generate_pairs(self, pairs: Sequence[tuple], batch_size: int) -> List[str]:
        texts: List[str] = []
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start : start + batch_size]
            batch = self.data_preprocessor.collate(
                [dict(images=[q, s], prompt=p) for q, s, p, _ in chunk], with_answer=False
            )
            texts += self.generate_texts(self.data_preprocessor.cast_data(batch))
        return texts

    def explain_batch(self, pairs: Sequence[tuple], batch_size: int = 8) -> List[dict]:
        """Explain ``(query_img, satellite_img, prompt, lang)`` tuples in batches.

        Each result: ``text`` (the generated answer), ``label`` (its parsed verdict,
        -1 unparseable) and, with ``score_verdicts``, ``p_match`` (the scored
        verdict, :meth:`score_batch`, after this very text) and ``scored_label``
        (``p_match >= match_threshold``).
        """
        from gleamkit.evaluation.explanation.verdict import parse_verdict

        was_training = self.training
        self.eval()
        try:
            texts = self._generate_pairs(pairs, batch_size)
            results = [
                dict(text=t, label=int(parse_verdict(t, lang=pair[3])))
                for t, pair in zip(texts, pairs)
            ]
            if self.score_verdicts:
                scores = self.score_batch(pairs, batch_size=batch_size, texts=texts)
                for result, p in zip(results, scores):
                    result.update(p_match=float(p), scored_label=int(p >= self.match_threshold))
        finally:
            self.train(was_training)
        return results

    # ------------------------------------------------------------------ scoring
    def candidates(self, lang: str, answer_mode: str) -> Dict[int, Tuple[str, ...]]:
        """The verdict candidates scored for ``lang`` and ``answer_mode``."""
        from .verdict_scoring import verdict_candidates

        if self.custom_candidates and lang in self.custom_candidates:
            given = self.custom_candidates[lang]
            return {k: tuple(given[k]) for k in (1, 0)}
        return verdict_candidates(lang, answer_mode)

    def pair_answer_mode(self, prompt: str, lang: str) -> str:
        """``answer_mode`` if set, else what the prompt asks for."""
        from .verdict_scoring import infer_answer_mode

        return self.answer_mode or infer_answer_mode(prompt, lang)

    @torch.no_grad()
    def score_batch(
        self,
        pairs: Sequence[tuple],
        batch_size: int = 8,
        texts: Optional[Sequence[str]] = None,
    ) -> List[float]:
        """P(match) of ``(query_img, satellite_img, prompt, lang)`` tuples, in [0, 1].

        Read from the model's own probabilities of the verdict candidates at the
        verdict position (:mod:`~gleamkit.models.explainers.verdict_scoring`):
        label-only prompts right after the generation prompt; explanation prompts
        after the explanation (``texts``, or generated greedily here when not
        given) with its closing verdict sentence replaced by the candidates. A
        candidate's log-probability is the sum over its tokens; P(match) is
        normalised over the two classes. ``batch_size`` counts scored sequences
        (a pair has one per candidate).
        """
        from .verdict_scoring import class_probability, split_closing_verdict, verdict_separator

        if texts is not None and len(texts) != len(pairs):
            raise ValueError(f'score_batch: {len(texts)} texts for {len(pairs)} pairs')
        langs = [lang if lang in ('en', 'zh') else 'en' for *_, lang in pairs]
        modes = [self.pair_answer_mode(p[2], lang) for p, lang in zip(pairs, langs)]
        was_training = self.training
        self.eval()
        try:
            texts = list(texts) if texts is not None else [None] * len(pairs)
            todo = [i for i, m in enumerate(modes) if m == 'explanation' and texts[i] is None]
            if todo:
                for i, t in zip(todo, self._generate_pairs([pairs[i] for i in todo], batch_size)):
                    texts[i] = t
            rows = []  # (pair, class, query, satellite, prompt, answer prefix, candidate)
            for i, (pair, lang, mode) in enumerate(zip(pairs, langs, modes)):
                cands = self.candidates(lang, mode)
                prefix = ''
                if mode == 'explanation':
                    body, _ = split_closing_verdict(texts[i], lang, cands)
                    prefix = body + verdict_separator(lang) if body else ''
                for label in (1, 0):
                    rows += [(i, label, pair[0], pair[1], pair[2], prefix, c) for c in cands[label]]
            logps: Dict[Tuple[int, int], List[float]] = {}
            for start in range(0, len(rows), max(1, batch_size)):
                chunk = rows[start : start + max(1, batch_size)]
                for row, lp in zip(chunk, self.continuation_log_probs(chunk)):
                    logps.setdefault((row[0], row[1]), []).append(lp)
        finally:
            self.train(was_training)
        return [class_probability(logps[(i, 1)], logps[(i, 0)]) for i in range(len(pairs))]

    def continuation_log_probs(self, rows: Sequence[tuple]) -> List[float]:
        """``log p(candidate | images, prompt, answer prefix)`` of each row.

        ``rows``: ``(.., .., query, satellite, prompt, prefix, candidate)`` tuples
        (the first two fields are the caller's). The answer ``prefix + candidate``
        is tokenised as training tokenises answers (as one text); the candidate's
        tokens are those after the longest common token prefix with ``prefix``
        alone, and their log-probabilities are summed.
        """
        from .vlm_data_preprocessor import IGNORE_INDEX

        dp = self.data_preprocessor
        inputs = [dict(images=[q, s], prompt=p, answer=a + c) for *_, q, s, p, a, c in rows]
        saved, dp.max_length = dp.max_length, None  # never cut the candidate off
        try:
            batch = dp.collate(inputs, with_answer=True)
        finally:
            dp.max_length = saved
        labels = batch.pop('labels')
        logits = self.model(**self._model_inputs(dp.cast_data(batch)), use_cache=False).logits
        log_probs = torch.log_softmax(logits.float(), dim=-1).cpu()
        ids = batch['input_ids']
        out = []
        for r, (*_, prefix, cand) in enumerate(rows):
            answer_ids = dp._encode(prefix + cand)
            prefix_ids = dp._encode(prefix)
            k = 0
            while k < min(len(answer_ids), len(prefix_ids)) and answer_ids[k] == prefix_ids[k]:
                k += 1
            start = int((labels[r] != IGNORE_INDEX).nonzero()[0])  # the answer's first token
            positions = range(start + k, start + len(answer_ids))
            out.append(float(sum(log_probs[r, t - 1, ids[r, t]] for t in positions)))
        return out


def merge_lora_adapter(
    adapter_path: str,
    out_dir: str,
    base_model: Optional[str] = None,
    torch_dtype: Union[str, torch.dtype] = 'auto',
    trust_remote_code: bool = False,
) -> str:
    """Merge a saved adapter into its base model and save a standalone model.

    The result (weights, processor with the recorded pixel budget, the record) is
    what ``vllm serve OUT_DIR`` serves. ``base_model`` defaults to the one in the
    adapter's :data:`EXPLAINER_RECORD` (else ``adapter_config.json``).
    """
    record = read_explainer_record(adapter_path) or {}
    if base_model is None:
        base_model = record.get('base_model')
    if base_model is None:
        with open(osp.join(adapter_path, 'adapter_config.json'), encoding='utf-8') as f:
            base_model = json.load(f)['base_model_name_or_path']
    explainer = HuggingFaceVLMExplainer(
        base_model,
        lora=None,
        adapter_path=adapter_path,
        torch_dtype=torch_dtype,
        trust_remote_code=trust_remote_code,
    )
    merged = explainer.model.merge_and_unload()
    os.makedirs(out_dir, exist_ok=True)
    merged.save_pretrained(out_dir, safe_serialization=True)
    explainer.processor.save_pretrained(out_dir)
    with open(osp.join(out_dir, EXPLAINER_RECORD), 'w', encoding='utf-8') as f:
        json.dump(
            dict(explainer.explainer_record(), merged_from=osp.abspath(adapter_path)),
            f,
            indent=2,
            ensure_ascii=False,
        )
    return out_dir
