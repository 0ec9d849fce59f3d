"""Chat-formatted batches for a Hugging Face VLM, from GLEAM-X samples."""

import os
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np
import torch
from mmengine.model import BaseDataPreprocessor

from gleamkit.registry import MODELS

__all__ = [
    'VLMDataPreprocessor',
    'build_chat_messages',
    'to_pil_image',
    'sample_inputs',
    'IGNORE_INDEX',
]

#: Label value the loss ignores (Hugging Face's and PyTorch's convention).
IGNORE_INDEX = -100

# Per-token tensors a processor may return besides ``input_ids`` and ``attention_mask``:
# Qwen2-VL/2.5-VL's ``mm_token_type_ids`` and Gemma3's ``token_type_ids`` mark image tokens
# (answers are text: 0); PaliGemma's ``token_type_ids`` split a prefix-LM into the prompt
# (0, attended both ways) and the answer (1, causal: what its generate() gives new tokens).
# An answer token typed 0 there would see the answer tokens after it.
_PER_TOKEN_KEYS = ('mm_token_type_ids', 'token_type_ids')
#: Processors of prefix-LMs: their answer tokens get ``token_type_ids`` 1.
PREFIX_LM_PROCESSORS = ('PaliGemmaProcessor',)


def to_pil_image(image: Any):
    """An ``HxWx3`` uint8 RGB array, a PIL image or a file path as an RGB PIL image."""
    from PIL import Image

    if isinstance(image, Image.Image):
        return image.convert('RGB')
    if isinstance(image, (str, os.PathLike)):
        with Image.open(image) as img:
            return img.convert('RGB')
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
        array = array.transpose(1, 2, 0)  # CHW -> HWC
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.dtype != np.uint8:
        raise TypeError(f'images must be uint8 RGB arrays (HxWx3), got dtype {array.dtype}')
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] != 3):
        raise ValueError(f'images must be HxWx3 RGB arrays, got shape {array.shape}')
    return Image.fromarray(array).convert('RGB')


def sample_inputs(inputs: Any) -> List[dict]:
    """The per-sample ``inputs`` dicts of a batch, whichever way it was collated.

    ``pseudo_collate`` (the Runner's default) turns a list of
    ``dict(images=[query, satellite], prompt, answer)`` into one dict of columns,
    ``dict(images=[queries, satellites], prompt=[...], answer=[...])``; a plain
    list of sample dicts and a single sample dict are accepted too.
    """
    if isinstance(inputs, Mapping):
        prompts = inputs.get('prompt')
        if prompts is None or isinstance(prompts, str):
            return [dict(inputs)]
        columns = {k: v for k, v in inputs.items() if k != 'images'}
        images = inputs.get('images', ())
        rows = []
        for i in range(len(prompts)):
            row = {k: v[i] for k, v in columns.items()}
            row['images'] = [column[i] for column in images]
            rows.append(row)
        return rows
    return list(inputs)


def build_chat_messages(
    prompt: str,
    num_images: int = 2,
    answer: Optional[str] = None,
    system_prompt: Optional[str] = None,
) -> List[dict]:
    """The chat of one GLEAM-X pair in Hugging Face's multimodal message format.

    ``[system], user = [image] * num_images + [text prompt], [assistant = answer]``:
    images first, query image first (the order the prompts refer to).
    """
    messages = []
    if system_prompt:
        messages.append(dict(role='system', content=[dict(type='text', text=system_prompt)]))
    content = [dict(type='image') for _ in range(num_images)]
    content.append(dict(type='text', text=prompt))
    messages.append(dict(role='user', content=content))
    if answer is not None:
        messages.append(dict(role='assistant', content=[dict(type='text', text=answer)]))
    return messages


@MODELS.register_module()
class VLMDataPreprocessor(BaseDataPreprocessor):
    """Collates GLEAM-X samples into a VLM's inputs, with answer-only labels.

    Input (``pseudo_collate`` of the dataset's samples): ``{'inputs': the samples'
    ``dict(images=[query HxWx3 uint8, satellite HxWx3 uint8], prompt=str, answer=str)``
    (collated into columns or as a list, see :func:`sample_inputs`), 'data_samples':
    [ExplanationDataSample, ...]}``.

    Training (``training=True``, the Runner's train step): each sample becomes the
    chat ``[system], user = 2 images + prompt, assistant = answer``; the processor
    expands the image placeholders and pads on the right; ``labels`` are
    ``IGNORE_INDEX`` everywhere except the answer's tokens (and, with
    ``supervise_end_of_turn``, the end-of-turn token that follows them, which
    teaches the model to stop). The answer is tokenised on its own, so the
    supervised tokens are exactly ``tokenizer(answer)``.

    Inference (``training=False``): the chat without the answer plus the
    generation prompt, padded on the left for batched generation.

    The processor comes from the model (:meth:`set_processor`): the explainer
    loads it with the model and hands it over.

    Args:
        system_prompt (str, optional): a system message; ``None`` leaves the chat
            template's default (Qwen's "You are a helpful assistant.").
            Defaults to None.
        supervise_end_of_turn (bool): also supervise the end-of-turn token after
            the answer. Defaults to True.
        max_length (int, optional): truncate answers so a sequence has at most
            this many tokens (the prompt, images included, is never cut).
            Defaults to None (no truncation).
        non_blocking (bool): as in mmengine's ``BaseDataPreprocessor``.
            Defaults to False.

    Per-token type ids the processor returns are extended over the answer with
    the value the model gives generated tokens: 0 for Qwen's
    ``mm_token_type_ids`` and Gemma3's ``token_type_ids`` (image markers), 1 for
    PaliGemma's ``token_type_ids`` (:data:`PREFIX_LM_PROCESSORS`: the prompt is a
    bidirectional prefix, the answer stays causal).
    """

    def __init__(
        self,
        system_prompt: Optional[str] = None,
        supervise_end_of_turn: bool = True,
        max_length: Optional[int] = None,
        non_blocking: bool = False,
    ):
        super().__init__(non_blocking=non_blocking)
        self.system_prompt = system_prompt
        self.supervise_end_of_turn = supervise_end_of_turn
        self.max_length = max_length
        self.processor = None
        self.end_of_turn_ids: List[int] = []

    # ------------------------------------------------------------------ set-up
    def set_processor(self, processor, end_of_turn_ids: Optional[Sequence[int]] = None) -> None:
        """Use ``processor`` (a Hugging Face ``ProcessorMixin``) for collation.

        ``end_of_turn_ids``: the token ids generation stops at (default: the
        tokenizer's ``eos_token_id``); the first of them after the answer is the
        end-of-turn token supervised with ``supervise_end_of_turn``.
        """
        self.processor = processor
        if end_of_turn_ids is None:
            eos = getattr(processor.tokenizer, 'eos_token_id', None)
            end_of_turn_ids = [] if eos is None else [eos]
        self.end_of_turn_ids = [int(i) for i in end_of_turn_ids]

    @property
    def tokenizer(self):
        return self._require_processor().tokenizer

    def _require_processor(self):
        if self.processor is None:
            raise RuntimeError(
                'VLMDataPreprocessor has no processor: it is set by the model that owns it '
                '(HuggingFaceVLMExplainer calls set_processor); a standalone preprocessor '
                'needs preprocessor.set_processor(AutoProcessor.from_pretrained(...)).'
            )
        return self.processor

    # ------------------------------------------------------------------ chat text
    def prompt_text(self, prompt: str, num_images: int) -> str:
        """The chat up to the generation prompt, as text with image placeholders."""
        messages = build_chat_messages(prompt, num_images, system_prompt=self.system_prompt)
        return self._require_processor().apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )

    def answer_segments(self, prompt: str, num_images: int, answer: str) -> tuple:
        """Split what the chat template puts after the generation prompt.

        Returns ``(before, answer, after)``: template text between the generation
        prompt and the answer (usually empty), the answer itself, and the text
        after it (``'<|im_end|>\\n'`` for Qwen).
        """
        processor = self._require_processor()
        head = self.prompt_text(prompt, num_images)
        messages = build_chat_messages(
            prompt, num_images, answer=answer, system_prompt=self.system_prompt
        )
        full = processor.apply_chat_template(messages, tokenize=False)
        if not full.startswith(head):
            raise ValueError(
                'the chat template renders the conversation without the answer (plus the '
                'generation prompt) differently from the start of the conversation with it, '
                'so the answer tokens cannot be located; templates must append the assistant '
                f'turn after the generation prompt. Generation prompt text: {head[-80:]!r}; '
                f'full text: {full[len(head) - 80 :][:160]!r}'
            )
        tail = full[len(head) :]
        start = tail.find(answer)
        if start < 0:
            raise ValueError(
                f'the chat template changed the answer text (e.g. stripped it); '
                f'answer {answer[:80]!r} not found in {tail[:160]!r}'
            )
        return tail[:start], answer, tail[start + len(answer) :]

    def _encode(self, text: str) -> List[int]:
        if not text:
            return []
        return list(self.tokenizer(text, add_special_tokens=False)['input_ids'])

    def encode_answer(self, prompt: str, num_images: int, answer: str) -> tuple:
        """Token ids and labels of what follows the generation prompt."""
        before, answer, after = self.answer_segments(prompt, num_images, answer)
        before_ids, answer_ids, after_ids = (self._encode(t) for t in (before, answer, after))
        after_labels = [IGNORE_INDEX] * len(after_ids)
        if self.supervise_end_of_turn:
            for i, token in enumerate(after_ids):
                if token in self.end_of_turn_ids:
                    after_labels[: i + 1] = after_ids[: i + 1]
                    break
        ids = before_ids + answer_ids + after_ids
        labels = [IGNORE_INDEX] * len(before_ids) + answer_ids + after_labels
        return ids, labels

    # ------------------------------------------------------------------ batches
    def collate(self, inputs: Sequence[dict], with_answer: bool) -> Dict[str, torch.Tensor]:
        """The model inputs of a list of samples (tensors on the CPU).

        Args:
            inputs: The samples' ``inputs`` dicts (``images``, ``prompt``, ``answer``).
            with_answer: Training batch (answers appended, ``labels``, right padding)
                or generation batch (generation prompt, left padding).
        """
        processor = self._require_processor()
        if not inputs:
            raise ValueError('empty batch')
        texts, images = [], []
        for i, item in enumerate(inputs):
            if not isinstance(item, dict) or 'images' not in item or 'prompt' not in item:
                raise ValueError(
                    f'sample {i}: expected inputs=dict(images=[query, satellite], '
                    f'prompt=str, answer=str), got {type(item).__name__} with keys '
                    f'{sorted(item) if isinstance(item, dict) else "-"}'
                )
            imgs = [to_pil_image(img) for img in item['images']]
            texts.append(self.prompt_text(item['prompt'], len(imgs)))
            images.append(imgs)
        batch = processor(
            text=texts, images=images, return_tensors='pt', padding=True, padding_side='left'
        )
        batch = dict(batch)
        if not with_answer:
            return batch
        return self._append_answers(batch, inputs)

    def answer_token_type(self, key: str) -> int:
        """The value of the per-token tensor ``key`` on answer tokens (see the class doc)."""
        prefix_lm = type(self._require_processor()).__name__ in PREFIX_LM_PROCESSORS
        return 1 if key == 'token_type_ids' and prefix_lm else 0

    def _append_answers(self, batch: dict, inputs: Sequence[dict]) -> dict:
        pad_id = self.tokenizer.pad_token_id
        if pad_id is None:
            pad_id = self.end_of_turn_ids[0] if self.end_of_turn_ids else 0
        mask = batch['attention_mask'].bool()
        per_token = [
            k
            for k in _PER_TOKEN_KEYS
            if isinstance(batch.get(k), torch.Tensor)
            and batch[k].shape[:2] == batch['input_ids'].shape
        ]
        answer_type = {k: self.answer_token_type(k) for k in per_token}
        rows = []
        for i, item in enumerate(inputs):
            answer = item.get('answer')
            if not isinstance(answer, str) or not answer:
                raise ValueError(
                    f'sample {i}: training needs a non-empty answer string in '
                    f'inputs["answer"], got {answer!r}'
                )
            keep = mask[i]
            prompt_ids = batch['input_ids'][i][keep].tolist()
            ids, labels = self.encode_answer(item['prompt'], len(item['images']), answer)
            if self.max_length is not None and len(prompt_ids) + len(ids) > self.max_length:
                room = self.max_length - len(prompt_ids)
                if room <= 0:
                    raise ValueError(
                        f'sample {i}: the prompt alone has {len(prompt_ids)} tokens (images '
                        f'included), more than max_length={self.max_length}; lower the pixel '
                        'budget (max_pixels) or raise max_length'
                    )
                ids, labels = ids[:room], labels[:room]
            row = dict(input_ids=prompt_ids + ids, labels=[IGNORE_INDEX] * len(prompt_ids) + labels)
            for key in per_token:
                row[key] = batch[key][i][keep].tolist() + [answer_type[key]] * len(ids)
            rows.append(row)
        length = max(len(r['input_ids']) for r in rows)
        # the processor's own 'labels' (PaliGemma returns some) are replaced by ours
        out = {
            k: v
            for k, v in batch.items()
            if k not in ('input_ids', 'attention_mask', 'labels', *per_token)
        }

        def pad(key, value):
            return torch.tensor(
                [r[key] + [value] * (length - len(r[key])) for r in rows], dtype=torch.long
            )

        out['input_ids'] = pad('input_ids', pad_id)
        out['labels'] = pad('labels', IGNORE_INDEX)
        out['attention_mask'] = torch.tensor(
            [[1] * len(r['input_ids']) + [0] * (length - len(r['input_ids'])) for r in rows],
            dtype=torch.long,
        )
        for key in per_token:
            out[key] = pad(key, answer_type[key])  # padding is masked out anyway
        return out

    def forward(self, data: dict, training: bool = False) -> dict:
        """``{'inputs': samples' inputs (see :func:`sample_inputs`), 'data_samples': [...]}``.

        In a generation batch each data sample that has a target answer gets its
        length in tokens as ``answer_tokens`` (the model checks its generation
        budget against it), and the per-sample inputs come back as ``raw_inputs``
        (the model scores its verdicts on them, see
        :meth:`HuggingFaceVLMExplainer.score_batch`).
        """
        inputs = sample_inputs(data['inputs'])
        batch = self.collate(inputs, with_answer=training)
        data_samples = data.get('data_samples')
        if not training and data_samples is not None and len(data_samples) == len(inputs):
            for item, sample in zip(inputs, data_samples):
                answer = item.get('answer') if isinstance(item, dict) else None
                if isinstance(answer, str) and answer and hasattr(sample, 'set_metainfo'):
                    sample.set_metainfo(dict(answer_tokens=len(self._encode(answer))))
        out = dict(inputs=self.cast_data(batch), data_samples=data_samples)
        if not training:
            out['raw_inputs'] = inputs
        return out
