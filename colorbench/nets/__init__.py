"""Shared network blocks that methods build from (no method imports another method).

* :mod:`colorbench.nets.padding`: ``pad_to_multiple`` / ``crop_to`` for any-size inference;
* :mod:`colorbench.nets.blocks`: norms by name (``make_norm``), TF-style 'same' convs (``SameConv2d``), and the
  inference modes ``evaluating`` (running statistics) and ``batch_statistics`` (batch statistics, buffers kept);
* :mod:`colorbench.nets.init`: ``init_normal_`` (the pix2pix / DCGAN N(0, 0.02) initialisation);
* :mod:`colorbench.nets.unet`: one configurable U-Net (pix2pix U-Net-256, the KTH U-Net);
* :mod:`colorbench.nets.dynamic_unet`: fastai's ``DynamicUnet`` on a torchvision ResNet (the C2F generator);
* :mod:`colorbench.nets.patchgan`: the 70×70 PatchGAN discriminator;
* ``multiscale``, ``spectral``: multi-scale discriminators and spectral-norm helpers (Górriz / featrec);
* :mod:`colorbench.nets.ddcolor`: the DDColor network and its reference key mapping, built from
  ``convnext_stages`` (timm ConvNeXt + per-stage norms), ``pixel_decoder`` and ``color_decoder`` (learnable colour
  queries); ``sn_critic`` (DeOldify's spectral-norm critic) and ``vgg_taps`` (VGG16-BN conv outputs for a
  perceptual loss).

Submodules are imported directly (``from colorbench.nets.unet import UNet``) so that importing one block does not
import the others.
"""
