"""The GeoSAM2 network: SAM2.1's video predictor with a second encoder for point maps."""

from __future__ import annotations

import torch
from sam2.sam2_video_predictor import SAM2VideoPredictor
from torch import nn

from .fusion import FeatureFusion
from .lora import add_lora, official_lora_config


class GeoSAM2(SAM2VideoPredictor):
    """SAM2.1 with two complete encoders, LoRA in both trunks and feature fusion.

    ``image_encoder`` (SAM2's, trunk + neck) reads the normal map and
    ``pos_map_encoder`` (a second copy of the same architecture) reads the point
    map; every trunk block's ``attn.qkv`` carries a rank-`lora_rank` LoRA on its Q
    and V slices (see `lora.LoRAQKV`); ``feature_fusion`` adds the point features
    into the normal features on the three FPN levels. Positional encodings come
    from the normal-map encoder. Everything else is stock SAM2.1 (memory
    attention, memory encoder, prompt encoder, mask decoder), so SAM2's
    ``track_step`` machinery runs unchanged on the fused features.

    Parameters
    ----------
    pos_map_encoder : nn.Module
        A SAM2 ``ImageEncoder`` (built from the same config as ``image_encoder``).
    lora_rank : int
        Rank of the LoRA matrices (4 in the release).
    **sam2_kwargs
        The arguments of ``SAM2VideoPredictor`` / ``SAM2Base``.
    """

    def __init__(self, pos_map_encoder: nn.Module, lora_rank: int = 4, **sam2_kwargs):
        super().__init__(**sam2_kwargs)
        self.pos_map_encoder = pos_map_encoder
        self.lora_rank = lora_rank
        config = official_lora_config(lora_rank)
        for encoder in (self.image_encoder, self.pos_map_encoder):
            add_lora(encoder.trunk, config)
        self.feature_fusion = FeatureFusion(self.hidden_dim)

    def forward_image(self, img_batch: torch.Tensor) -> dict:
        """Fused backbone features of a batch of views.

        Parameters
        ----------
        img_batch : (B, 6, S, S) float
            Channels 0-2: the normal-map input, 3-5: the point-map input (see
            `geosam2.model.encode`), S = ``image_size``.

        Returns
        -------
        SAM2's backbone output: "backbone_fpn" (three fused levels, levels 0 and 1
        already through the mask decoder's conv_s0 / conv_s1), "vision_pos_enc"
        (of the normal-map encoder) and "vision_features" (the fused level 2).
        """
        if img_batch.ndim != 4 or img_batch.shape[1] != 6:
            raise ValueError(f"GeoSAM2 encodes (B, 6, S, S) batches of normal + point maps, got {tuple(img_batch.shape)}.")
        normal_out = self.image_encoder(img_batch[:, :3])
        point_out = self.pos_map_encoder(img_batch[:, 3:])
        fpn = self.feature_fusion(normal_out["backbone_fpn"], point_out["backbone_fpn"])
        vision_features = fpn[-1]
        if self.use_high_res_features_in_sam:
            fpn[0] = self.sam_mask_decoder.conv_s0(fpn[0])
            fpn[1] = self.sam_mask_decoder.conv_s1(fpn[1])
        return {"vision_features": vision_features, "vision_pos_enc": normal_out["vision_pos_enc"], "backbone_fpn": fpn}
