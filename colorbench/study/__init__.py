"""The human perceptual study (issue 9): ``create`` images and a manifest, ``invite`` participants (one link each),
``serve`` one web page that stores answers in SQLite, ``report`` naturalness with Wilson intervals beside the
published rows. The organiser's workflow: ``docs/study.md``.

Modules, one job each: :mod:`~colorbench.study.manifest` (layout and validation of a study folder),
:mod:`~colorbench.study.create` (images), :mod:`~colorbench.study.schedule` (who sees what),
:mod:`~colorbench.study.store` (SQLite), :mod:`~colorbench.study.service` (answer rules shared by the web app and
the simulator), :mod:`~colorbench.study.reencode` (each served image re-encoded for its participant),
:mod:`~colorbench.study.app` (Starlette), :mod:`~colorbench.study.stats` (Wilson intervals),
:mod:`~colorbench.study.simulate`, :mod:`~colorbench.study.report`.

Nothing here imports torch except :mod:`~colorbench.study.create`, so ``serve`` starts fast.
"""
