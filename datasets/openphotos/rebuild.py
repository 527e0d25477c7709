#!/usr/bin/env python3
# ruff: noqa: E501
# (E501 off for this file only: the photo table keeps one photo per line, and its paths and URLs are long.)
"""Rebuild the openphotos dataset (images/, CREDITS.csv, manifest.csv) from the packages its photos come from.

Every photo is taken from a Debian bookworm package (exact version, fetched with ``apt-get download``, or read from
the local system when that exact version is installed, or from .deb files you pass with --debs) or from the
scikit-image 0.26.0 wheel on PyPI (an installed scikit-image 0.26.0, a wheel you pass with --wheels, or
``pip download``, which uses pip's cache). GCompris keeps its pictures inside Qt resource (.rcc) files; a small
parser below reads them (the rcc files of gcompris-qt-data 3.1-2 use zlib only; the optional ``zstandard`` module is
needed only if an entry is zstd-compressed, and then the script says so).

Each photo is decoded, converted to RGB and, when it embeds an ICC profile, to sRGB (Pillow's ImageCms), resized with
Pillow's LANCZOS filter so that its shorter side is 256 px, and saved as baseline JPEG (quality 90, 4:2:0,
optimize=False) without EXIF or ICC data. The bytes depend on the Pillow, libjpeg, libwebp and lcms2 versions:
--check reports every file whose rebuilt bytes differ from manifest.csv and prints those versions.

Before writing anything the script checks, for every photo, the licence statement inside its package (GCompris's
per-activity README, the Debian copyright file, the wallpaper License file, scikit-learn's images/README.txt,
scikit-image's data docstrings) against the author, licence and source recorded in PHOTOS below.

Splits (manifest.csv) are photo-disjoint and fixed: see assign_splits(). Requirements: Python >= 3.9, Pillow, numpy;
apt-get (or --debs) for the Debian packages; pip (or --wheels, or scikit-image 0.26.0 installed) for scikit-image.
CI does not run this script.
"""

from __future__ import annotations

import argparse
import csv
import glob
import hashlib
import io
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, features

HERE = Path(__file__).resolve().parent
SHORT_SIDE = 256
JPEG_OPTIONS = {"quality": 90, "optimize": False, "progressive": False, "subsampling": "4:2:0"}
MIN_MEAN_CHROMA = 3.0  # CIELAB units (D65): photos whose mean chroma sqrt(a*^2 + b*^2) is lower count as near-greyscale
SPLIT_SEED = "openphotos-2026"
N_TEST, N_VAL = 40, 12
# The library versions that made the committed files (JPEG bytes depend on them).
BUILT_WITH = "Pillow 13.0.0, libjpeg-turbo 3.2.0, libwebp 1.6.0, lcms2 2.19"

# Debian bookworm packages: version and the sha256 of the amd64/all .deb from deb.debian.org.
DEBS = {
    "gcompris-qt-data": ("3.1-2", "e9cf06ab2105529068df73085784e835d2ff03f870d2a8091f09125d40abac9f"),
    "lomiri-wallpapers-16.04": ("20.04.0-2", "a99ff6a3bfe451e4cc0682ecb3cc82e71740626d59e4845ae34a0a0e45421eab"),
    "lomiri-wallpapers-20.04": ("20.04.0-2", "d44e89b8473aafe64a5b678f014862dc31335aaaf18665c544d985d854f1a709"),
    "lxqt-themes": ("1.2.0-1", "d518df36b515b09d36cb00b12645dd8ce170bb82bb0966297741905ce3edc8e1"),
    "puzzle-jigsaw": ("1.0.2+git20201007.527c529+dfsg-4+b1", "f0c23ba52d3465c9c795ba97024b6968d4b30fbca6e886813ba216047462958e"),
    "python3-sklearn": ("1.2.1+dfsg-1", "ca0c6be401d14871c7e93cfdd8d1f561595dc65e6e2ad2501d568aee7f7efc58"),
}
WHEELS = {"scikit-image": "0.26.0"}  # PyPI; the data files are the same in every platform's wheel

GC = "/usr/share/gcompris-qt/rcc/"
LOMIRI_URL = "https://gitlab.com/ubports/development/core/lomiri-wallpapers"
LXQT_URL = "https://github.com/lxqt/lxqt-themes"

# Scene groups: photos of the same place or the same series always land in the same split.
GROUPS = {
    "egypt_pyramids": ("bent_pyramid", "great_pyramid_giza", "meidum_pyramid", "red_pyramid"),
    "baia_underwater": ("baia_underwater_road", "baia_underwater_port"),
}

# (file stem, subject, package, path in package, author, licence (SPDX id or public-domain), source)
# For GCompris the author, licence and source are those of the activity's resource README inside the same .rcc file
# (path "<rcc file>:<path inside the rcc>"); the Debian copyright file of gcompris-qt-data 3.1-2 still lists the
# older .jpg pictures of these activities, so the per-file README is the statement used (see README.md).
PHOTOS = [
    ("bent_pyramid", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/egypt/bentPyramid.webp", "Neithsabes", "public-domain", "https://commons.wikimedia.org/wiki/File:Pyramide_rhomboidale_01.JPG"),
    ("great_pyramid_giza", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/egypt/greatPyramidOfGiza.webp", "Gary Todd", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:Giza_Great_Pyramid_of_Khufu_(9793952173).jpg"),
    ("meidum_pyramid", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/egypt/meidumPyramid.webp", "Neithsabes", "public-domain", "https://commons.wikimedia.org/wiki/File:Meidoum_pyramide_006.JPG"),
    ("red_pyramid", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/egypt/redPyramid.webp", "Chipdawes", "public-domain", "https://commons.wikimedia.org/wiki/File:RedPyramid.JPG"),
    ("arles_amphitheatre", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/france/arlesAmphitheater.webp", "(WT-fr) OT Arles", "public-domain", "https://commons.wikimedia.org/wiki/File:Arenes_arles.JPG"),
    ("chateau_chambord", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/france/chateaudeChambord.webp", "BjörnT", "public-domain", "https://commons.wikimedia.org/wiki/File:Chambord_Frontansicht.JPG"),
    ("chateau_chenonceau", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/france/chateaudeChenonceau.webp", "Alf van Beem", "public-domain", "https://commons.wikimedia.org/wiki/File:Ch%C3%A2teau_de_Chenonceau_photo_1.JPG"),
    ("carcassonne", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/france/citedeCarcassonne.webp", "Petitemontagnedujura", "public-domain", "https://commons.wikimedia.org/wiki/File:Carcassonne_-_la_Cit%C3%A9.jpg"),
    ("eiffel_tower", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/france/eiffelTower.webp", "Tognopop", "public-domain", "https://commons.wikimedia.org/wiki/File:Eiffel_Tower_20051010.jpg"),
    ("mont_saint_michel", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/france/montStMichel.webp", "Ali Sabbagh", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:Mont_Saint-Michel_IMG_5109_(48875955288).jpg"),
    ("palais_des_papes", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/france/palaisdesPapes.webp", "Tognopop", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:Main_entrance_of_the_Palais_des_Papes_-_20050823.jpg"),
    ("pont_du_gard", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/france/pontduGard.webp", "Mimova", "public-domain", "https://commons.wikimedia.org/wiki/File:Pontdugard.jpg"),
    ("reims_cathedral", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/france/reimsCathedral.webp", "Mattana", "public-domain", "https://commons.wikimedia.org/wiki/File:Reims_Cathedrale_Notre_Dame_002_chevet.JPG"),
    ("rocamadour", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/france/rocamadour.webp", "François Darras", "public-domain", "https://commons.wikimedia.org/wiki/File:Rocamadour_fda.jpg"),
    ("berlin_cathedral", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/germany/berlinCathedral.webp", "Gary Todd", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:Berlin_Cathedral_(28668994926).jpg"),
    ("brandenburg_gate", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/germany/brandenburgGate.webp", "Evans1551", "public-domain", "https://commons.wikimedia.org/wiki/File:Brandenburg_Gate_(summer_2005).JPG"),
    ("neuschwanstein_castle", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/germany/neuschwansteinCastle.webp", "cameralends", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:Neuschwanstein_Castle_(532850).jpg"),
    ("schwerin_palace", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/germany/schwerinPalace.webp", "Hermann Luyken", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:2012.02.26.121724_Schloss_Schwerin.jpg"),
    ("trier_imperial_baths", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/germany/trierImperialBaths.webp", "Berthold Werner", "public-domain", "https://commons.wikimedia.org/wiki/File:Trier_Kaiserthermen_BW_1.JPG"),
    ("worms_cathedral", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/germany/wormsCathedral.webp", "Immanuel Giel", "public-domain", "https://commons.wikimedia.org/wiki/File:Dommodell_Worms_04.jpg"),
    ("ajanta_caves", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/india/ajantaCave.webp", "Jonathanawhite", "public-domain", "https://commons.wikimedia.org/wiki/File:Aurangabad_-_Ajanta_Caves_(32).JPG"),
    ("charminar", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/india/charminar.webp", "Goutamkhandelwal", "public-domain", "https://commons.wikimedia.org/wiki/File:Charminar_1.JPG"),
    ("gateway_of_india", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/india/gatewayofIndia.webp", "Simon Steinberger", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:Gateway-of-India.jpg"),
    ("golden_temple", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/india/goldenTemple.webp", "Jasdeep Singh", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:Golden_Temple_.jpg"),
    ("sanchi_stupa", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/india/greatStupa.webp", "ArnoldBetten", "public-domain", "https://commons.wikimedia.org/wiki/File:Sanchi_Stupa_1_(1999).JPG"),
    ("hawa_mahal", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/india/hawaMahal.webp", "Janwiki", "public-domain", "https://commons.wikimedia.org/wiki/File:Hawa_Mahal,_Jaipur,_India.jpg"),
    ("konark_sun_temple", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/india/konarkSunTemple.webp", "Tetraktys", "public-domain", "https://commons.wikimedia.org/wiki/File:Konark_Sun_Temple_Front_view.jpg"),
    ("mysore_palace", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/india/mysorePalace.webp", "Shiva sg", "public-domain", "https://commons.wikimedia.org/wiki/File:Mysore_Palace_2006.jpg"),
    ("qutub_minar", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/india/qutubMinar.webp", "pramadas", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:Qutubmin.jpg"),
    ("rang_ghar", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/india/rangGhar.webp", "Porikolpok Oxom", "public-domain", "https://commons.wikimedia.org/wiki/File:Rangghar_Assam.JPG"),
    ("victoria_memorial", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/india/victoriaMemorial.webp", "Anourag", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:Victoria_Memorial_Calcutta.jpg"),
    ("cabrillo_statue", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/usa/cabrillo.webp", "allyndon", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:Cabrillo_National_Monument._California_Historical_Landmark_%5E56_-_Flickr_-_allyndon.jpg"),
    ("canyon_de_chelly", "landscapes", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/usa/canyondeChelly.webp", "Nikater", "public-domain", "https://commons.wikimedia.org/wiki/File:Canyon_de_chelly09.jpg"),
    ("castillo_san_marcos", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/usa/castillodeSanMarcos.webp", "National Park Service", "public-domain", "https://commons.wikimedia.org/wiki/File:Castillo_de_San_Marcos.jpg"),
    ("fort_sumter", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/usa/fortSumter.webp", "Gary Todd", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:Fort_Sumter,_South_Carolina_(12583090893).jpg"),
    ("washington_birthplace", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/usa/georgeWashingtonBirthplace.webp", "National Park Service", "public-domain", "https://commons.wikimedia.org/wiki/File:George_Washington_Birthplace_National_Monument,_Virginia_(e1c27488-14f6-4478-ab87-d36af60e34d3).jpg"),
    ("lincoln_memorial", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/usa/lincolnMemorial.webp", "Brylie Christopher Oxley", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:US-WashingtonDC-LincolnMemorial-20140312_014138_HDR_v1.JPG"),
    ("mount_rushmore", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/usa/mountRushmore.webp", "Eekim", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:Mount_Rushmore,_Keystone,_South_Dakota.jpg"),
    ("betatakin_cliff_dwellings", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/usa/navajo.webp", "Jon Sullivan", "public-domain", "https://commons.wikimedia.org/wiki/File:Betatakin_Cliff_Dwellings.jpg"),
    ("statue_of_liberty", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/usa/statueofLiberty.webp", "(WT-shared) Ypsilonatshared", "public-domain", "https://commons.wikimedia.org/wiki/File:Liberty_enlightening_the_world.JPG"),
    ("colosseum", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/wonders/colosseum.webp", "Urse Ovidiu", "public-domain", "https://commons.wikimedia.org/wiki/File:Colosseum_Roma_2009.jpg"),
    ("great_wall", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/wonders/greatWallofChina.webp", "Nicolas Perrault III", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:Great_Wall_of_China_July_2006.JPG"),
    ("machu_picchu", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/wonders/machuPicchu.webp", "Guillaume Pascal", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:Yet_another_pic_of_machu_picchu.jpg"),
    ("sally_lightfoot_crab", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/crab.webp", "Nosferattus", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:Sally_Lightfoot_Crab_2019.jpg"),
    ("giraffe_closeup", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/giraffe.webp", "Sergio Cambelo", "public-domain", "https://commons.wikimedia.org/wiki/File:Giraffe.JPG"),
    ("kingfisher", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/kingfisher.webp", "Frank-2.0", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:Eisvogel_kingfisher.jpg"),
    ("pika", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/pika.webp", "NPS Climate Change Response", "public-domain", "https://www.flickr.com/photos/npsclimatechange/23072904076/"),
    ("red_panda", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/red_panda.webp", "Mathias Appel", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:Red_Panda_(30324056733).jpg"),
    ("bison", "animals", "gcompris-qt-data", GC + "explore_world_animals.rcc:/gcompris/src/activities/explore_world_animals/resource/animals/bison.webp", "Kurt Kaiser", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:American_Bison_9.jpg"),
    ("garden_lizard", "animals", "gcompris-qt-data", GC + "explore_world_animals.rcc:/gcompris/src/activities/explore_world_animals/resource/animals/chameleon.webp", "Nilesh1104", "public-domain", "https://commons.wikimedia.org/wiki/File:GARDEN_CHAMELEON.jpeg"),
    ("saltwater_crocodile", "animals", "gcompris-qt-data", GC + "explore_world_animals.rcc:/gcompris/src/activities/explore_world_animals/resource/animals/crocodile.webp", "Djambalawa", "public-domain", "https://commons.wikimedia.org/wiki/File:Saltwater_Crocodile_on_a_river_bank_(cropped).jpg"),
    ("komodo_dragon", "animals", "gcompris-qt-data", GC + "explore_world_animals.rcc:/gcompris/src/activities/explore_world_animals/resource/animals/dragon.webp", "TimVickers", "public-domain", "https://commons.wikimedia.org/wiki/File:Varanus_komodoensis_(5).jpg"),
    ("giraffes", "animals", "gcompris-qt-data", GC + "explore_world_animals.rcc:/gcompris/src/activities/explore_world_animals/resource/animals/giraffe.webp", "Mike and Lara Wolfe", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:Giraffe_courtship_(25657342808).jpg"),
    ("hedgehog", "animals", "gcompris-qt-data", GC + "explore_world_animals.rcc:/gcompris/src/activities/explore_world_animals/resource/animals/hedgehog.webp", "George Chernilevsky", "public-domain", "https://commons.wikimedia.org/wiki/File:Erinaceus_roumanicus_2020_G2.jpg"),
    ("jaguars", "animals", "gcompris-qt-data", GC + "explore_world_animals.rcc:/gcompris/src/activities/explore_world_animals/resource/animals/jaguar.webp", "Frieda Bredesen", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:Two_Jaguar_Sisters.jpg"),
    ("kangaroo_and_joey", "animals", "gcompris-qt-data", GC + "explore_world_animals.rcc:/gcompris/src/activities/explore_world_animals/resource/animals/kangaroo.webp", "Vicki Nunn", "public-domain", "https://commons.wikimedia.org/wiki/File:Eastern_Grey_Kangaroo_%26_Joey2.jpg"),
    ("koala", "animals", "gcompris-qt-data", GC + "explore_world_animals.rcc:/gcompris/src/activities/explore_world_animals/resource/animals/koala.webp", "BurningWell", "public-domain", "https://commons.wikimedia.org/wiki/File:Koala_Perth_Zoo.jpg"),
    ("lemurs", "animals", "gcompris-qt-data", GC + "explore_world_animals.rcc:/gcompris/src/activities/explore_world_animals/resource/animals/lemur.webp", "Mathias Appel", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:Lemur_(37122852696).jpg"),
    ("moose", "animals", "gcompris-qt-data", GC + "explore_world_animals.rcc:/gcompris/src/activities/explore_world_animals/resource/animals/moose.webp", "Ryan Hagerty", "public-domain", "https://commons.wikimedia.org/wiki/File:Male_Moose.jpg"),
    ("narwhals", "animals", "gcompris-qt-data", GC + "explore_world_animals.rcc:/gcompris/src/activities/explore_world_animals/resource/animals/narwhal.webp", "Dr Kristin Laidre", "public-domain", "https://commons.wikimedia.org/wiki/File:Pod_Monodon_monoceros.jpg"),
    ("giant_panda", "animals", "gcompris-qt-data", GC + "explore_world_animals.rcc:/gcompris/src/activities/explore_world_animals/resource/animals/panda.webp", "Jeff Kubina", "public-domain", "https://commons.wikimedia.org/wiki/File:Giant_Panda_2004-03-2.jpg"),
    ("polar_bear", "animals", "gcompris-qt-data", GC + "explore_world_animals.rcc:/gcompris/src/activities/explore_world_animals/resource/animals/polar_bear.webp", "anonymous", "public-domain", "https://commons.wikimedia.org/wiki/File:Churchill_Wildlife_Management_Area_polar_bear30.JPG"),
    ("scarlet_macaw", "animals", "gcompris-qt-data", GC + "explore_world_animals.rcc:/gcompris/src/activities/explore_world_animals/resource/animals/scarlet_macaw.webp", "Dcoetzee", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:Scarlet_macaw_at_Cougar_Mountain_Zoological_Park.jpg"),
    ("kitten_with_yarn", "animals", "gcompris-qt-data", GC + "explore_farm_animals.rcc:/gcompris/src/activities/explore_farm_animals/resource/animals/cat.webp", "Loliloli", "public-domain", "https://commons.wikimedia.org/wiki/File:Spielendes_K%C3%A4tzchen.JPG"),
    ("chickens", "animals", "gcompris-qt-data", GC + "explore_farm_animals.rcc:/gcompris/src/activities/explore_farm_animals/resource/animals/chicken.webp", "Tranquilles", "public-domain", "https://commons.wikimedia.org/wiki/File:Chickens_at_Tranquilles_B%26B.JPG"),
    ("cow", "animals", "gcompris-qt-data", GC + "explore_farm_animals.rcc:/gcompris/src/activities/explore_farm_animals/resource/animals/cow.webp", "Dohduhdah", "public-domain", "https://commons.wikimedia.org/wiki/File:Cow-IMG_2050.JPG"),
    ("german_shepherd", "animals", "gcompris-qt-data", GC + "explore_farm_animals.rcc:/gcompris/src/activities/explore_farm_animals/resource/animals/dog.webp", "Hans Kemperman", "public-domain", "https://commons.wikimedia.org/wiki/File:German-shepherd-4040871920._(2).jpg"),
    ("white_duck", "animals", "gcompris-qt-data", GC + "explore_farm_animals.rcc:/gcompris/src/activities/explore_farm_animals/resource/animals/duck.webp", "Bernard Spragg", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:Aylesbury_Duck._(9373723157).jpg"),
    ("horse_herd", "animals", "gcompris-qt-data", GC + "explore_farm_animals.rcc:/gcompris/src/activities/explore_farm_animals/resource/animals/horse.webp", "Seth Zeigler", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:Nokota_Horse_Stud_Band.jpg"),
    ("owl", "animals", "gcompris-qt-data", GC + "explore_farm_animals.rcc:/gcompris/src/activities/explore_farm_animals/resource/animals/owl.webp", "Lepale", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:Owl_The_Nightbird.jpg"),
    ("pig", "animals", "gcompris-qt-data", GC + "explore_farm_animals.rcc:/gcompris/src/activities/explore_farm_animals/resource/animals/pig.webp", "Teinesavaii", "public-domain", "https://commons.wikimedia.org/wiki/File:Pig_1,_Savaii,_Samoa.JPG"),
    ("sheep", "animals", "gcompris-qt-data", GC + "explore_farm_animals.rcc:/gcompris/src/activities/explore_farm_animals/resource/animals/sheep.webp", "Rob Mitchell", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:Sheep_(33625876592).jpg"),
    ("bata_drums", "objects", "gcompris-qt-data", GC + "explore_world_music.rcc:/gcompris/src/activities/explore_world_music/resource/music/africa.webp", "Kenneth Ritchards", "public-domain", "https://commons.wikimedia.org/wiki/File:Bata_drums.jpg"),
    ("opera_singers", "people", "gcompris-qt-data", GC + "explore_world_music.rcc:/gcompris/src/activities/explore_world_music/resource/music/italy.webp", "SoriamuséuM", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:%C3%93pera_c%C3%A1sina.jpg"),
    ("taiko_festival", "people", "gcompris-qt-data", GC + "explore_world_music.rcc:/gcompris/src/activities/explore_world_music/resource/music/japan.webp", "takami torao", "public-domain", "https://commons.wikimedia.org/wiki/File:Agidaiko03.jpg"),
    ("mariachi_band", "people", "gcompris-qt-data", GC + "explore_world_music.rcc:/gcompris/src/activities/explore_world_music/resource/music/mexico.webp", "Elidealista", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:Wikipedia_10_Guadalajara_-_Mariachi.jpg"),
    ("baroque_orchestra", "people", "gcompris-qt-data", GC + "explore_world_music.rcc:/gcompris/src/activities/explore_world_music/resource/music/orchestra.webp", "ABC Informática", "public-domain", "https://commons.wikimedia.org/wiki/File:Orchestra_of_the_18th_Century.jpg"),
    ("baia_underwater_road", "underwater", "gcompris-qt-data", GC + "clickgame.rcc:/gcompris/src/activities/clickgame/resource/sea1.webp", "Ruthven", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:Parco_archeologico_di_Baia_-_via_herculanea_2.jpg"),
    ("baia_underwater_port", "underwater", "gcompris-qt-data", GC + "clickgame.rcc:/gcompris/src/activities/clickgame/resource/sea2.webp", "Ruthven", "CC0-1.0", "https://commons.wikimedia.org/wiki/File:Parco_archeologico_di_Baia_-_portus_Julius_4.jpg"),
    ("aquarium_porthole", "underwater", "gcompris-qt-data", GC + "clickgame.rcc:/gcompris/src/activities/clickgame/resource/sea3.webp", "SolarSurfer", "public-domain", "https://commons.wikimedia.org/wiki/File:Finding_Nemo_Porthole.JPG"),
    ("black_coral", "underwater", "gcompris-qt-data", GC + "clickgame.rcc:/gcompris/src/activities/clickgame/resource/sea4.webp", "Pseudopanax", "public-domain", "https://commons.wikimedia.org/wiki/File:Black_coral_at_Milford_Sound_Underwater_Observatory.jpg"),
    ("underwater_cave", "underwater", "gcompris-qt-data", GC + "clickgame.rcc:/gcompris/src/activities/clickgame/resource/sea5.webp", "Rita Segantini", "public-domain", "https://commons.wikimedia.org/wiki/File:DSCN1716.JPG"),
    ("basket_starfish", "underwater", "gcompris-qt-data", GC + "clickgame.rcc:/gcompris/src/activities/clickgame/resource/sea6.webp", "U.S. Fish and Wildlife Service", "public-domain", "https://commons.wikimedia.org/wiki/File:Basket_starfish_underwater_astrophyton_muriatum.jpg"),
    ("chichen_itza", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/wonders/chichenItza.webp", "Daniel Schwen", "CC-BY-SA-4.0", "https://commons.wikimedia.org/wiki/File:Chichen_Itza_3.jpg"),
    ("christ_the_redeemer", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/wonders/christTheRedeemer.webp", "Chensiyuan", "CC-BY-SA-4.0", "https://commons.wikimedia.org/wiki/File:1_cristor_redentor_2014.jpg"),
    ("taj_mahal", "monuments", "gcompris-qt-data", GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/wonders/tajMahal.webp", "Yann", "CC-BY-SA-4.0", "https://commons.wikimedia.org/wiki/File:Taj_Mahal,_Agra,_India.jpg"),
    ("alpaca", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/alpaca.webp", "Dietmar Rabich / Wikimedia Commons", "CC-BY-SA-4.0", "https://commons.wikimedia.org/wiki/File:D%C3%BClmen,_B%C3%B6rnste,_Alpakas_--_2020_--_5338.jpg"),
    ("bee", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/bee.webp", "aussiegall", "CC-BY-2.0", "https://commons.wikimedia.org/wiki/File:Pollinationn.jpg"),
    ("glassy_tiger_butterfly", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/butterfly.webp", "Jee & Rani Nature Photography", "CC-BY-SA-4.0", "https://commons.wikimedia.org/wiki/File:Parantica_aglea_at_Nayikayam_Thattu.jpg"),
    ("calf", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/calf.webp", "Basile Morin", "CC-BY-SA-4.0", "https://commons.wikimedia.org/wiki/File:Close-up_photograph_of_a_calf%27s_head_looking_at_the_viewer_with_pricked_ears_in_Don_Det_Laos.jpg"),
    ("bactrian_camels", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/camels.webp", "Alexandr frolov", "CC-BY-SA-4.0", "https://commons.wikimedia.org/wiki/File:Camelus_bactrianus_in_western_Mongolia_02.jpg"),
    ("swallowtail_caterpillar", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/caterpillar.webp", "Ivar Leidus", "CC-BY-SA-4.0", "https://commons.wikimedia.org/wiki/File:Papilio_machaon_-_Daucus_carota_-_Keila.jpg"),
    ("chameleon", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/chamaeleon.webp", "Benny Trapp", "CC-BY-3.0", "https://commons.wikimedia.org/wiki/File:BennyTrapp_Chamaeleo_chamaeleon_Samos_Griechenland.jpg"),
    ("cheetah", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/cheetah.webp", "Charles J. Sharp", "CC-BY-SA-4.0", "https://commons.wikimedia.org/wiki/File:Cheetah_(Acinonyx_jubatus)_female_2.jpg"),
    ("dolphin", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/dolphin.webp", "טל שמע", "CC-BY-SA-4.0", "https://commons.wikimedia.org/wiki/File:Eilat_Dolphin_Reef_(3).jpg"),
    ("flying_fox", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/flying_fox.webp", "Andrew Mercer", "CC-BY-SA-4.0", "https://commons.wikimedia.org/wiki/File:Grey_headed_flying_fox_-_AndrewMercer_IMG41848.jpg"),
    ("gibbon", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/gibbon.webp", "JJ Harrison", "CC-BY-3.0", "https://commons.wikimedia.org/wiki/File:Hylobates_lar_-_Kaeng_Krachan_WB.jpg"),
    ("valais_goat", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/goat.webp", "JoachimKohlerBremen", "CC-BY-SA-4.0", "https://commons.wikimedia.org/wiki/File:Walliser_Schwarzhalsziege,_Belalp_2014.jpg"),
    ("mountain_gorilla", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/gorilla.webp", "Charles J. Sharp", "CC-BY-SA-4.0", "https://commons.wikimedia.org/wiki/File:Mountain_gorilla_(Gorilla_beringei_beringei)_female_2.jpg"),
    ("gosling", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/gosling.webp", "Stephan Sprinz", "CC-BY-SA-4.0", "https://commons.wikimedia.org/wiki/File:Graugans-G%C3%B6ssel_(anser_anser)_im_Naturschutzgebiet_Wagbachniederung.jpg"),
    ("purple_heron", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/heron.webp", "Stephan Sprinz", "CC-BY-SA-4.0", "https://commons.wikimedia.org/wiki/File:Purpurreiher_(ardea_purpurea)_im_Flug_-_NSG_Wagbachniederung_1.jpg"),
    ("zanskari_horse", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/horse.webp", "Eatcha", "CC-BY-SA-4.0", "https://commons.wikimedia.org/wiki/File:Zaniskari_Horse_in_Ladakh.jpg"),
    ("kitten", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/kitten.webp", "GalgenTX", "CC-BY-2.0", "https://commons.wikimedia.org/wiki/File:A_posing_kitten_(Flickr).jpg"),
    ("proboscis_monkeys", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/long_nosed_monkey.webp", "Charles J. Sharp", "CC-BY-SA-4.0", "https://commons.wikimedia.org/wiki/File:Proboscis_monkey_(Nasalis_larvatus)_female_and_baby.jpg"),
    ("bonnet_macaque", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/macaque.webp", "PJeganathan", "CC-BY-SA-4.0", "https://commons.wikimedia.org/wiki/File:Bonnet_macaques_in_anaimalai_hills_JEG2730.jpg"),
    ("meerkats", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/meerkats.webp", "Charles J. Sharp", "CC-BY-SA-4.0", "https://commons.wikimedia.org/wiki/File:Meerkat_(Suricata_suricatta)_Tswalu.jpg"),
    ("northern_harrier", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/northern_harrier.webp", "Frank Schulenburg", "CC-BY-SA-4.0", "https://commons.wikimedia.org/wiki/File:Female_northern_harrier_in_flight-1142.jpg"),
    ("nubian_ibex", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/nubian_ibex.webp", "Rhododendrites", "CC-BY-SA-4.0", "https://commons.wikimedia.org/wiki/File:Juvenile_Nubian_ibex_in_Mitzpe_Ramon_(40409).jpg"),
    ("chinstrap_penguin", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/penguin.webp", "Gordon Leggett / Wikimedia Commons", "CC-BY-SA-4.0", "https://commons.wikimedia.org/wiki/File:2019-03-03_Chinstrap_penguin_on_Barrientos_Island,_Antarctica.jpg"),
    ("indian_rhinoceros", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/rhinoceros.webp", "Charles J. Sharp", "CC-BY-SA-4.0", "https://commons.wikimedia.org/wiki/File:Indian_rhinoceros_(Rhinoceros_unicornis)_4.jpg"),
    ("spoonbills", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/spoonbills.webp", "Ryzhkov Sergey", "CC-BY-SA-4.0", "https://commons.wikimedia.org/wiki/File:%D0%9A%D0%BE%D1%81%D0%B0%D1%80%D1%96_%D0%B2_%D0%B4%D0%B5%D0%BB%D1%8C%D1%82%D1%96_%D0%94%D1%83%D0%BD%D0%B0%D1%8E.jpg"),
    ("red_squirrel", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/squirrel.webp", "Роман Наумов", "CC-BY-SA-4.0", "https://commons.wikimedia.org/wiki/File:%D0%91%D1%96%D0%BB%D0%BA%D0%B0_%D0%BD%D0%B0_%D0%B4%D0%B5%D1%80%D0%B5%D0%B2%D1%96_%D0%B2_%D0%B4%D0%B5%D0%BD%D0%B4%D1%80%D0%BE%D0%BF%D0%B0%D1%80%D0%BA%D1%83_%D0%9E%D0%BB%D0%B5%D0%BA%D1%81%D0%B0%D0%BD%D0%B4%D1%80%D1%96%D1%8F.jpg"),
    ("toucan", "animals", "gcompris-qt-data", GC + "erase.rcc:/gcompris/src/activities/erase/resource/toucan.webp", "LG Nyqvist", "CC-BY-SA-4.0", "https://commons.wikimedia.org/wiki/File:Pteroglossus_torquatus_Costa_Rica.jpg"),
    ("drum_kit_and_guitar", "objects", "gcompris-qt-data", GC + "explore_world_music.rcc:/gcompris/src/activities/explore_world_music/resource/music/america.webp", "Tom Harpel", "CC-BY-2.0", "https://commons.wikimedia.org/wiki/File:Onalaska-Practice6.jpg"),
    ("didgeridoo_player", "people", "gcompris-qt-data", GC + "explore_world_music.rcc:/gcompris/src/activities/explore_world_music/resource/music/australia.webp", "Steve Evans", "CC-BY-2.0", "https://commons.wikimedia.org/wiki/File:Australia_Aboriginal_Culture_009.jpg"),
    ("irish_folk_band", "people", "gcompris-qt-data", GC + "explore_world_music.rcc:/gcompris/src/activities/explore_world_music/resource/music/ireland.webp", "candyschwartz", "CC-BY-2.0", "https://commons.wikimedia.org/wiki/File:Lunny_irvine_o_flynn_glackin.jpg"),
    ("bridge_cables", "objects", "lomiri-wallpapers-16.04", "/usr/share/backgrounds/Bridge_by_Sander_Klootwijk.jpg", "Sander Klootwijk", "CC-BY-SA-4.0", LOMIRI_URL),
    ("dragonfly", "animals", "lomiri-wallpapers-16.04", "/usr/share/backgrounds/Dragonfly_by_Bolly.jpg", "Bolly", "CC-BY-SA-4.0", LOMIRI_URL),
    ("fig_on_plate", "objects", "lomiri-wallpapers-16.04", "/usr/share/backgrounds/Picture_0B_by_freespace.jpg", "Trevor \"Freespace\"", "CC-BY-4.0", LOMIRI_URL),
    ("paint_brushes", "objects", "lomiri-wallpapers-16.04", "/usr/share/backgrounds/Picture_1A_by_freespace.jpg", "Trevor \"Freespace\"", "CC-BY-4.0", LOMIRI_URL),
    ("djembe_and_wine", "objects", "lomiri-wallpapers-16.04", "/usr/share/backgrounds/Wine_by_Jakkub_Mede.jpg", "Jakub Mede", "CC-BY-4.0", LOMIRI_URL),
    ("aitzgorri_mountains", "landscapes", "lomiri-wallpapers-16.04", "/usr/share/backgrounds/aitzgorri_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi", "CC-BY-4.0", LOMIRI_URL),
    ("dogs_at_door", "animals", "lomiri-wallpapers-16.04", "/usr/share/backgrounds/friends_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi", "CC-BY-4.0", LOMIRI_URL),
    ("wall_clock", "objects", "lomiri-wallpapers-16.04", "/usr/share/backgrounds/greentock_by_Peter_Nerlich.jpg", "Peter Nerlich", "CC-BY-SA-4.0", LOMIRI_URL),
    ("forest_stream", "landscapes", "lomiri-wallpapers-16.04", "/usr/share/backgrounds/life_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi", "CC-BY-4.0", LOMIRI_URL),
    ("picos_de_europa", "landscapes", "lomiri-wallpapers-16.04", "/usr/share/backgrounds/picosdeeuropa_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi", "CC-BY-4.0", LOMIRI_URL),
    ("dandelions", "plants", "lomiri-wallpapers-16.04", "/usr/share/backgrounds/seeding_by_Clements_Engelhardt.jpg", "Clemens Engelhardt", "CC0-1.0", LOMIRI_URL),
    ("mountain_sunset", "landscapes", "lomiri-wallpapers-16.04", "/usr/share/backgrounds/sunset_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi", "CC-BY-4.0", LOMIRI_URL),
    ("nuthatch", "animals", "lomiri-wallpapers-20.04", "/usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg", "Lukas Baubkus", "CC-BY-SA-3.0", LOMIRI_URL),
    ("after_the_rain", "landscapes", "lxqt-themes", "/usr/share/lxqt/wallpapers/after-the-rain.jpg", "stefonarch", "CC-BY-SA-3.0", LXQT_URL),
    ("apple_blossom", "plants", "lxqt-themes", "/usr/share/lxqt/wallpapers/appleflower.png", "stefonarch", "CC-BY-SA-3.0", LXQT_URL),
    ("butterfly_on_flower", "animals", "lxqt-themes", "/usr/share/lxqt/wallpapers/butterfly.png", "stefonarch", "CC-BY-SA-3.0", LXQT_URL),
    ("dew_drop", "plants", "lxqt-themes", "/usr/share/lxqt/wallpapers/drop.png", "stefonarch", "CC-BY-SA-3.0", LXQT_URL),
    ("wildflowers", "plants", "lxqt-themes", "/usr/share/lxqt/wallpapers/flowers.png", "stefonarch", "CC-BY-SA-3.0", LXQT_URL),
    ("fog_over_valley", "landscapes", "lxqt-themes", "/usr/share/lxqt/wallpapers/fog.jpg", "stefonarch", "CC-BY-SA-3.0", LXQT_URL),
    ("green_hills", "landscapes", "lxqt-themes", "/usr/share/lxqt/wallpapers/this-is-not-windows.jpg", "stefonarch", "CC-BY-SA-3.0", LXQT_URL),
    ("tiger_in_snow", "animals", "puzzle-jigsaw", "/usr/share/puzzle-jigsaw/samples/pexels-photo-302304.jpeg", "Pexels (photographer not named)", "CC0-1.0", "https://www.pexels.com/photo/angry-animal-big-carnivore-302304/"),
    ("china_pagoda", "monuments", "python3-sklearn", "/usr/lib/python3/dist-packages/sklearn/datasets/images/china.jpg", "danielbuechele", "CC-BY-2.0", "https://www.flickr.com/photos/danielbuechele/6061409035/sizes/z/in/photostream/"),
    ("astronaut", "people", "scikit-image", "skimage/data/astronaut.png", "NASA", "public-domain", "https://flic.kr/p/r9qvLn"),
    ("chelsea_cat", "animals", "scikit-image", "skimage/data/chelsea.png", "Stefan van der Walt", "CC0-1.0", "skimage/data/_fetchers.py"),
    ("coffee_cup", "objects", "scikit-image", "skimage/data/coffee.png", "Rachel Michetti", "CC0-1.0", "skimage/data/_fetchers.py"),
    ("rocket_launch", "objects", "scikit-image", "skimage/data/rocket.jpg", "SpaceX", "public-domain", "https://www.flickr.com/photos/spacexphotos/16511594820/in/photostream/"),
]

# Candidates surveyed (public domain, CC0, CC-BY, CC-BY-SA; at least ~500 px) that are left out, and why.
EXCLUDED = [
    (GC + "erase.rcc:/gcompris/src/activities/erase/resource/swans.webp", f"near-greyscale (mean chroma 0.5 < {MIN_MEAN_CHROMA})"),
    (GC + "explore_world_music.rcc:/gcompris/src/activities/explore_world_music/resource/music/middleeast.webp", "near-greyscale (mean chroma 2.6): a museum object on grey"),
    ("/usr/share/backgrounds/free_by_Peter_Nerlich.jpg (lomiri-wallpapers-16.04)", "near-greyscale (mean chroma 2.5)"),
    ("/usr/share/lxqt/wallpapers/beam.png (lxqt-themes)", "near-greyscale (mean chroma 2.8)"),
    ("/usr/share/puzzle-jigsaw/samples/cat-animal-cat-portrait-mackerel.jpg (puzzle-jigsaw)", "near-greyscale (mean chroma 0.5): desaturated except the eyes"),
    ("/usr/share/lxqt/wallpapers/Valendas.png (lxqt-themes)", "author not named anywhere in the package"),
    ("/usr/share/lxqt/wallpapers/cloud.png (lxqt-themes)", "author not named anywhere in the package"),
    ("/usr/share/lxqt/wallpapers/Butterfly-Kenneth-Wimer.jpg (lxqt-themes)", "author only implied by the file name; not in the wallpapers' credits"),
    (GC + "explore_monuments.rcc:/gcompris/src/activities/explore_monuments/resource/wonders/petra.webp", "licence conflict: README says public domain, the file's EXIF copyright says GFDL"),
    ("/usr/lib/python3/dist-packages/sklearn/datasets/images/flower.jpg (python3-sklearn)", "author conflict: README.txt names danielbuechele but links vultilion's photo page"),
]


# ---------------------------------------------------------------------------------------------------------------
# Qt resource (.rcc) files
# ---------------------------------------------------------------------------------------------------------------
def parse_rcc(buf: bytes) -> dict[str, tuple[int, bytes]]:
    """Map every file path inside a Qt rcc file to (flags, stored bytes).

    Layout: 'qres', version, tree offset, data offset, names offset (big-endian uint32). A tree node is 14 bytes
    (version 1) or 22 bytes (version >= 2: plus a 64-bit mtime): name offset (u32), flags (u16), then for a directory
    child count (u32) and first child index (u32), for a file locale (u32) and data offset (u32). Names: u16 length,
    u32 hash, UTF-16BE characters. Data: u32 size, then the bytes. Flags: 1 zlib, 2 directory, 4 zstd.
    """
    if buf[:4] != b"qres":
        raise ValueError("not a Qt rcc file")
    version, tree, data, names = struct.unpack(">IIII", buf[4:20])
    node = 14 if version == 1 else 22

    def name(off: int) -> str:
        (n,) = struct.unpack(">H", buf[names + off : names + off + 2])
        return buf[names + off + 6 : names + off + 6 + 2 * n].decode("utf-16-be")

    out: dict[str, tuple[int, bytes]] = {}
    stack = [(0, "")]
    while stack:
        index, prefix = stack.pop()
        p = tree + index * node
        name_off, flags = struct.unpack(">IH", buf[p : p + 6])
        path = f"{prefix}/{name(name_off)}" if index else ""
        if flags & 2:
            count, first = struct.unpack(">II", buf[p + 6 : p + 14])
            stack.extend((child, path) for child in range(first, first + count))
        else:
            (off,) = struct.unpack(">I", buf[p + 10 : p + 14])
            (size,) = struct.unpack(">I", buf[data + off : data + off + 4])
            out[path] = (flags, buf[data + off + 4 : data + off + 4 + size])
    return out


def rcc_payload(flags: int, stored: bytes) -> bytes:
    if flags & 4:
        try:
            import zstandard
        except ImportError:
            sys.exit("an rcc entry is zstd-compressed: install the 'zstandard' module (pip install zstandard)")
        return zstandard.ZstdDecompressor().decompressobj().decompress(stored)
    if flags & 1:
        return zlib.decompress(stored[4:])  # qCompress: 4-byte big-endian length, then a zlib stream
    return stored


# ---------------------------------------------------------------------------------------------------------------
# Getting the packages
# ---------------------------------------------------------------------------------------------------------------
def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def deb_members(deb: Path, wanted: set[str]) -> dict[str, bytes]:
    """Read the files `wanted` (absolute paths) from a .deb (an ar archive holding data.tar.*)."""
    raw = deb.read_bytes()
    if raw[:8] != b"!<arch>\n":
        raise ValueError(f"{deb} is not a .deb")
    pos, data_tar = 8, None
    while pos < len(raw):
        header = raw[pos : pos + 60]
        member, size = header[:16].decode().strip().rstrip("/"), int(header[48:58])
        if member.startswith("data.tar"):
            data_tar = (member, raw[pos + 60 : pos + 60 + size])
        pos += 60 + size + (size & 1)
    if data_tar is None:
        raise ValueError(f"{deb} has no data.tar")
    if data_tar[0].endswith(".zst"):  # tarfile cannot read zstd: let dpkg-deb unpack it
        tar_bytes = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], check=True, capture_output=True).stdout
    else:
        tar_bytes = data_tar[1]
    out = {}
    with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:*") as tar:
        for info in tar:
            path = "/" + info.name.lstrip("./")
            if path in wanted and info.isfile():
                out[path] = tar.extractfile(info).read()
    missing = wanted - set(out)
    if missing:
        raise FileNotFoundError(f"{deb.name} lacks {sorted(missing)}")
    return out


def installed_version(package: str) -> str | None:
    try:
        res = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True)
    except FileNotFoundError:
        return None
    return res.stdout.strip() if res.returncode == 0 else None


def get_deb_files(package: str, wanted: set[str], work: Path, debs_dir: Path | None, use_system: bool) -> dict[str, bytes]:
    version, deb_sha = DEBS[package]
    if use_system and installed_version(package) == version and all(os.path.isfile(p) for p in wanted):
        print(f"  {package} {version}: from the installed system")
        return {p: Path(p).read_bytes() for p in wanted}
    name_version = f"{package}_{version.replace(':', '%3a')}_"
    found = sorted(glob.glob(str(debs_dir / f"{glob.escape(name_version)}*.deb"))) if debs_dir else []
    if not found:
        if shutil.which("apt-get") is None:
            sys.exit(f"{package}={version}: no apt-get here; download the .deb and pass its folder with --debs")
        print(f"  {package} {version}: apt-get download")
        subprocess.run(["apt-get", "download", f"{package}={version}"], cwd=work, check=True)
        found = sorted(glob.glob(str(work / f"{glob.escape(name_version)}*.deb")))
    deb = Path(found[0])
    digest = sha256(deb.read_bytes())
    if digest != deb_sha:
        print(f"  note: {deb.name} sha256 {digest[:16]}... is not the recorded amd64/all one ({deb_sha[:16]}...)")
    return deb_members(deb, wanted)


def get_wheel_files(package: str, wanted: set[str], work: Path, wheels_dir: Path | None) -> dict[str, bytes]:
    version = WHEELS[package]
    module = package.replace("scikit-", "sk")
    try:
        mod = __import__(module)
        if getattr(mod, "__version__", None) == version:
            root = Path(mod.__file__).parent.parent
            if all((root / p).is_file() for p in wanted):
                print(f"  {package} {version}: from the installed module")
                return {p: (root / p).read_bytes() for p in wanted}
    except ImportError:
        pass
    pattern = f"{package.replace('-', '_')}-{version}-*.whl"
    found = sorted(glob.glob(str(wheels_dir / pattern))) if wheels_dir else []
    if not found:
        print(f"  {package} {version}: pip download (pip's cache is used when it holds the wheel)")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(work), f"{package}=={version}"]
        subprocess.run(cmd, check=True)
        found = sorted(glob.glob(str(work / pattern)))
    print(f"  {package} {version}: {Path(found[0]).name}")
    with zipfile.ZipFile(found[0]) as whl:
        return {p: whl.read(p) for p in wanted}


def collect_sources(work: Path, debs_dir: Path | None, wheels_dir: Path | None, use_system: bool):
    """Return ({photo stem: image bytes}, {(package, path): text of licence statements}) for every photo."""
    wanted: dict[str, set[str]] = {}
    for _stem, _subject, package, path, *_ in PHOTOS:
        outer = path.split(":", 1)[0]
        wanted.setdefault(package, set()).add(outer)
        for statement in statement_paths(package, path):
            wanted[package].add(statement.split(":", 1)[0])
    files: dict[tuple[str, str], bytes] = {}
    for package, paths in sorted(wanted.items()):
        if package in DEBS:
            got = get_deb_files(package, paths, work, debs_dir, use_system)
        else:
            got = get_wheel_files(package, paths, work, wheels_dir)
        files.update({(package, p): b for p, b in got.items()})
    rcc_cache: dict[tuple[str, str], dict] = {}

    def read(package: str, path: str) -> bytes:
        if ":" not in path:
            return files[(package, path)]
        outer, inner = path.split(":", 1)
        if (package, outer) not in rcc_cache:
            rcc_cache[(package, outer)] = parse_rcc(files[(package, outer)])
        return rcc_payload(*rcc_cache[(package, outer)][inner])

    images = {stem: read(package, path) for stem, _s, package, path, *_ in PHOTOS}
    statements = {}
    for _stem, _s, package, path, *_ in PHOTOS:
        for statement in statement_paths(package, path):
            statements[(package, statement)] = read(package, statement).decode("utf-8")
    return images, statements


# ---------------------------------------------------------------------------------------------------------------
# Licence statements inside the packages
# ---------------------------------------------------------------------------------------------------------------
def statement_paths(package: str, path: str) -> list[str]:
    if package == "gcompris-qt-data":
        outer, inner = path.split(":", 1)
        folder = inner.rsplit("/", 1)[0]
        folder = folder.rsplit("/", 1)[0] if "/explore_monuments/" in inner else folder  # egypt/, france/, ...
        return [f"{outer}:{folder}/README"]
    if package.startswith("lomiri-wallpapers") or package == "puzzle-jigsaw":
        return [f"/usr/share/doc/{package}/copyright"]
    if package == "lxqt-themes":
        return ["/usr/share/lxqt/wallpapers/License"]
    if package == "python3-sklearn":
        return ["/usr/lib/python3/dist-packages/sklearn/datasets/images/README.txt"]
    if package == "scikit-image":
        return ["skimage/data/_fetchers.py"]
    raise KeyError(package)


def _norm_licence(text: str) -> str:
    text = text.strip().replace(" ", "-")
    return "public-domain" if text.lower() == "public-domain" else text


def gcompris_entries(readme: str) -> dict[str, dict[str, str]]:
    """GCompris resource README: blank-line separated blocks of 'Key: value' lines; Files may list one per line."""
    entries = {}
    for block in re.split(r"\n\s*\n", readme):
        fields: dict[str, str] = {}
        files: list[str] = []
        key = None
        for line in block.splitlines():
            m = re.match(r"^(\w+):\s*(.*)$", line)
            if m:
                key = m.group(1)
                if key == "Files":
                    files += m.group(2).split()
                else:
                    fields[key] = m.group(2).strip()
            elif key == "Files" and line.strip():
                files.append(line.strip())
        for f in files:
            entries[f] = fields
    return entries


def dep5_paragraph(copyright_text: str, pattern: str) -> str:
    for para in re.split(r"\n\s*\n", copyright_text):
        files = re.search(r"^Files:((?:.*\n?)(?:[ \t].*\n?)*)", para, re.M)
        if files and pattern in files.group(1).split():
            return para
    raise LookupError(pattern)


def check_statement(row: tuple, statements: dict) -> list[str]:
    """Return the mismatches between a PHOTOS row and the licence statement inside its package."""
    stem, _subject, package, path, author, licence, source = row
    text = statements[(package, statement_paths(package, path)[0])]
    problems = []
    if package == "gcompris-qt-data":
        inner = path.split(":", 1)[1]
        folder = statement_paths(package, path)[0].split(":", 1)[1].rsplit("/", 1)[0]
        entry = gcompris_entries(text).get(inner[len(folder) + 1 :])
        if entry is None:
            return ["not listed in its README"]
        if author not in entry.get("Copyright", ""):
            problems.append(f"author {author!r} vs README {entry.get('Copyright')!r}")
        if _norm_licence(entry.get("License", "")) != licence:
            problems.append(f"licence {licence} vs README {entry.get('License')!r}")
        if entry.get("Source") != source:
            problems.append(f"source vs README {entry.get('Source')!r}")
    elif package.startswith("lomiri-wallpapers"):
        series = "16.04" if package.endswith("16.04") else "20.04"
        para = dep5_paragraph(text, f"{series}/{path.rsplit('/', 1)[1]}")
        if f"License: {licence}" not in para or author not in para:
            problems.append(f"copyright paragraph says {para!r}")
        if f"Source: {source}" not in text:
            problems.append("source URL not in the copyright file")
    elif package == "puzzle-jigsaw":
        para = dep5_paragraph(text, "samples/*")
        if f"License: {licence}" not in para or source not in para or "Pexels" not in para:
            problems.append(f"copyright paragraph says {para!r}")
    elif package == "lxqt-themes":
        if "creativecommons.org/licenses/by-sa/3.0" not in text or licence != "CC-BY-SA-3.0" or author not in text:
            problems.append("wallpapers/License does not say CC-BY-SA-3.0 / stefonarch")
    elif package == "python3-sklearn":
        block = text.split(f"Image: {path.rsplit('/', 1)[1]}", 1)[1].split("Image:", 1)[0]
        if "licenses/by/2.0" not in block or licence != "CC-BY-2.0" or author not in block or source not in block:
            problems.append(f"README.txt says {block!r}")
    elif package == "scikit-image":
        name = path.rsplit("/", 1)[1]
        doc = text[: text.index(f'"data/{name}"')].rsplit("def ", 1)[1]
        marks = {"public-domain": "public domain", "CC0-1.0": "CC0"}
        if marks[licence] not in doc or (author != "NASA" and author not in doc) or (source.startswith("http") and source not in doc):
            problems.append(f"docstring says {doc!r}")
    return problems


# ---------------------------------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------------------------------
_SRGB = None


def to_srgb(data: bytes) -> Image.Image:
    global _SRGB
    im = Image.open(io.BytesIO(data))
    im.load()
    icc = im.info.get("icc_profile")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        raise ValueError("image with transparency")
    im = im.convert("RGB")
    if icc:
        _SRGB = _SRGB or ImageCms.createProfile("sRGB")
        im = ImageCms.profileToProfile(im, ImageCms.ImageCmsProfile(io.BytesIO(icc)), _SRGB, outputMode="RGB")
    return im


def resize_short_side(im: Image.Image, short: int = SHORT_SIDE) -> Image.Image:
    w, h = im.size
    size = (short, round(h * short / w)) if w <= h else (round(w * short / h), short)
    resized = im.resize(size, Image.Resampling.LANCZOS)
    clean = Image.new("RGB", size)  # a fresh image: no info dict, so no EXIF, ICC or comments reach the JPEG
    clean.paste(resized)
    return clean


def encode_jpeg(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", **JPEG_OPTIONS)
    return buf.getvalue()


def mean_chroma(im: Image.Image) -> float:
    """Mean CIELAB chroma (D65, sRGB decoding) of an RGB image."""
    c = np.asarray(im.convert("RGB"), dtype=np.float64) / 255.0
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]])
    xyz = c @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    a, b = 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])
    return float(np.hypot(a, b).mean())


# ---------------------------------------------------------------------------------------------------------------
# Splits
# ---------------------------------------------------------------------------------------------------------------
def source_of(row: tuple) -> str:
    """The stratum's source: the package, and for GCompris its activity (erase, explore_monuments, ...)."""
    package, path = row[2], row[3]
    if package == "gcompris-qt-data":
        return package + "/" + path.split(":", 1)[0].rsplit("/", 1)[1][: -len(".rcc")]
    return package


def _apportion(n: int, sizes: dict[str, int]) -> dict[str, int]:
    """Split n in proportion to sizes: floors, then the largest remainders (ties: name order)."""
    total = sum(sizes.values())
    exact = {k: n * v / total for k, v in sizes.items()}
    out = {k: int(x) for k, x in exact.items()}
    for k in sorted(exact, key=lambda k: (-(exact[k] - out[k]), k))[: n - sum(out.values())]:
        out[k] += 1
    return out


SUBJECTS = ("animals", "landscapes", "monuments", "objects", "people", "plants", "underwater")
"""The subjects, in label order: manifest.csv's ``label`` is the position here (the class a method that trains on
labels, such as VAC+GAN's classifier, learns)."""


def assign_splits(rows: list[tuple], seed: str = SPLIT_SEED, n_test: int = N_TEST, n_val: int = N_VAL) -> dict[str, str]:
    """Photo-disjoint test/val/train split, stratified by subject and by source, fixed by `seed`.

    1. Units: each scene group in GROUPS is one unit (all its photos go to one split); every other photo is its own.
       Groups always go to train, so that every test and val photo is a scene of its own and test stays varied.
    2. The test quota is apportioned over subjects in proportion to their photo counts (largest remainder), and
       each subject's quota over its sources (package, or GCompris activity) the same way.
    3. Within a cell (subject, source), units are taken in the order of sha256(seed + ':' + unit name) while they
       fit the cell's quota; what a cell cannot fill (a group too large) is filled from the rest of its subject in
       the same hash order, then from any subject. (Groups being excluded, every unit here is one photo, so each
       quota is met exactly; the fall-backs only guard against future groups.)
    4. Val is drawn the same way from what is left; everything else is train.
    """
    by_stem = {r[0]: r for r in rows}
    group_of = {stem: g for g, stems in GROUPS.items() for stem in stems}
    units: dict[str, list[tuple]] = {}
    for r in rows:
        units.setdefault(group_of.get(r[0], r[0]), []).append(r)
    for name, members in units.items():
        if len({m[1] for m in members}) != 1:
            raise ValueError(f"group {name} mixes subjects")
    order = {name: hashlib.sha256(f"{seed}:{name}".encode()).hexdigest() for name in units}
    split_of: dict[str, str] = {}

    def draw(pool: list[str], n: int) -> list[str]:
        subject = {u: units[u][0][1] for u in pool}
        cell = {u: (units[u][0][1], source_of(units[u][0])) for u in pool}
        size = {u: len(units[u]) for u in pool}
        per_subject = _apportion(n, {s: sum(size[u] for u in pool if subject[u] == s) for s in set(subject.values())})
        chosen: list[str] = []
        for s in sorted(per_subject):
            cells = {c for u, c in cell.items() if c[0] == s}
            per_cell = _apportion(per_subject[s], {c: sum(size[u] for u in pool if cell[u] == c) for c in cells})
            left_in_subject = per_subject[s]
            for c in sorted(per_cell):
                room = per_cell[c]
                for u in sorted((u for u in pool if cell[u] == c), key=order.get):
                    if 0 < size[u] <= min(room, left_in_subject):
                        chosen.append(u)
                        room -= size[u]
                        left_in_subject -= size[u]
            for u in sorted((u for u in pool if subject[u] == s and u not in chosen), key=order.get):
                if 0 < size[u] <= left_in_subject:
                    chosen.append(u)
                    left_in_subject -= size[u]
        missing = n - sum(size[u] for u in chosen)
        for u in sorted((u for u in pool if u not in chosen), key=order.get):
            if 0 < size[u] <= missing:
                chosen.append(u)
                missing -= size[u]
        if missing:
            raise RuntimeError(f"could not fill a split of {n}")
        return chosen

    pool = sorted(u for u in units if len(units[u]) == 1)
    for split, n in (("test", n_test), ("val", n_val)):
        for u in draw(pool, n):
            for r in units[u]:
                split_of[r[0]] = split
        pool = [u for u in pool if units[u][0][0] not in split_of]
    for u in units:
        for r in units[u]:
            split_of.setdefault(r[0], "train")
    assert set(split_of) == set(by_stem)
    return split_of


# ---------------------------------------------------------------------------------------------------------------
# Build and check
# ---------------------------------------------------------------------------------------------------------------
def versions() -> str:
    return (
        f"Pillow {Image.__version__}, libjpeg-turbo {features.version('libjpeg_turbo')}, libwebp {features.version('webp')}, "
        f"lcms2 {features.version('littlecms2')}, numpy {np.__version__}, Python {sys.version.split()[0]}"
    )


def validate_table() -> None:
    stems = [r[0] for r in PHOTOS]
    dupes = {s for s in stems if stems.count(s) > 1}
    if dupes:
        raise ValueError(f"duplicate names: {sorted(dupes)}")
    for r in PHOTOS:
        if not re.fullmatch(r"[a-z0-9_]+", r[0]):
            raise ValueError(f"bad file name {r[0]}")
        if r[6] != "skimage/data/_fetchers.py" and not r[6].startswith("https://"):
            raise ValueError(f"bad source for {r[0]}")
    grouped = [s for g in GROUPS.values() for s in g]
    if set(grouped) - set(stems):
        raise ValueError(f"GROUPS name unknown photos: {sorted(set(grouped) - set(stems))}")


def build(out_dir: Path, work: Path, debs_dir: Path | None, wheels_dir: Path | None, use_system: bool) -> None:
    validate_table()
    images, statements = collect_sources(work, debs_dir, wheels_dir, use_system)
    problems = {r[0]: p for r in PHOTOS if (p := check_statement(r, statements))}
    if problems:
        for stem, p in problems.items():
            print(f"  licence statement mismatch for {stem}: {'; '.join(p)}")
        sys.exit("stopping: the table disagrees with the packages' licence statements")
    print(f"  licence statements checked for {len(PHOTOS)} photos")
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    keep = {f"{r[0]}.jpg" for r in PHOTOS}
    for stale in (out_dir / "images").glob("*.jpg"):
        if stale.name not in keep:
            stale.unlink()
    digests = {}
    for stem, *_ in PHOTOS:
        im = resize_short_side(to_srgb(images[stem]))
        chroma = mean_chroma(im)
        if chroma < MIN_MEAN_CHROMA:
            sys.exit(f"{stem}: mean chroma {chroma:.2f} is below {MIN_MEAN_CHROMA}")
        data = encode_jpeg(im)
        (out_dir / "images" / f"{stem}.jpg").write_bytes(data)
        digests[stem] = sha256(data)
    splits = assign_splits(PHOTOS)
    rows = sorted(PHOTOS)
    with open(out_dir / "CREDITS.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["file", "sha256", "package", "version", "path_in_package", "author", "licence", "source"])
        for stem, _subject, package, path, author, licence, source in rows:
            version = DEBS[package][0] if package in DEBS else WHEELS[package]
            w.writerow([f"{stem}.jpg", digests[stem], package, version, path, author, licence, source])
    labels = {subject: i for i, subject in enumerate(SUBJECTS)}
    with open(out_dir / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["file", "sha256", "split", "label", "subject"])
        for r in rows:
            w.writerow([f"{r[0]}.jpg", digests[r[0]], splits[r[0]], labels[r[1]], r[1]])
    counts = {s: sum(1 for v in splits.values() if v == s) for s in ("train", "val", "test")}
    total = sum((out_dir / "images" / f"{r[0]}.jpg").stat().st_size for r in rows)
    print(f"  wrote {len(rows)} photos ({total / 1e6:.2f} MB), splits {counts}, to {out_dir}")


def read_manifest(folder: Path) -> dict[str, tuple[str, str]]:
    with open(folder / "manifest.csv", newline="", encoding="utf-8") as fh:
        return {r["file"]: (r["sha256"], r["split"]) for r in csv.DictReader(fh)}


def check(work: Path, debs_dir: Path | None, wheels_dir: Path | None, use_system: bool, rebuild: bool) -> int:
    print(versions())
    manifest = read_manifest(HERE)
    bad = 0
    on_disk = {p.name for p in (HERE / "images").glob("*.jpg")}
    for name in sorted(on_disk - set(manifest)):
        print(f"  not in manifest.csv: images/{name}")
        bad += 1
    with open(HERE / "CREDITS.csv", newline="", encoding="utf-8") as fh:
        credits = {r["file"]: r["sha256"] for r in csv.DictReader(fh)}
    for name, (digest, _split) in sorted(manifest.items()):
        path = HERE / "images" / name
        if not path.is_file():
            print(f"  missing: images/{name}")
            bad += 1
        elif sha256(path.read_bytes()) != digest:
            print(f"  committed file differs from manifest.csv: images/{name}")
            bad += 1
        if credits.get(name) != digest:
            print(f"  CREDITS.csv sha256 differs from manifest.csv: {name}")
            bad += 1
    print(f"  committed files: {len(manifest) - bad} of {len(manifest)} match manifest.csv")
    if not rebuild:
        return 1 if bad else 0
    rebuilt_dir = work / "rebuilt"
    build(rebuilt_dir, work, debs_dir, wheels_dir, use_system)
    rebuilt = read_manifest(rebuilt_dir)
    differ = [n for n in sorted(set(manifest) | set(rebuilt)) if manifest.get(n, ("",))[0] != rebuilt.get(n, ("",))[0]]
    moved = [n for n in sorted(set(manifest) & set(rebuilt)) if manifest[n][1] != rebuilt[n][1]]
    for n in differ:
        print(f"  rebuilt bytes differ: {n}")
    for n in moved:
        print(f"  split differs: {n} ({manifest[n][1]} committed, {rebuilt[n][1]} rebuilt)")
    same = sum(1 for n in manifest if n in rebuilt and rebuilt[n][0] == manifest[n][0])
    print(f"  rebuilt: {same} of {len(manifest)} files byte-identical to manifest.csv; {len(moved)} split changes")
    if differ:
        print("  (JPEG bytes depend on the Pillow/libjpeg/libwebp/lcms2 versions printed above; the committed files were")
        print(f"   made with {BUILT_WITH}; under other versions a difference is expected, not an error in the data)")
    return 1 if (bad or differ or moved) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Rebuild datasets/openphotos (images/, CREDITS.csv, manifest.csv) from Debian and PyPI packages.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  python datasets/openphotos/rebuild.py              # apt-get download, rebuild in place\n"
            "  python datasets/openphotos/rebuild.py --check      # compare committed files and a rebuild with manifest.csv\n"
            "  python datasets/openphotos/rebuild.py --check --no-rebuild   # only hash the committed files\n"
            "  python datasets/openphotos/rebuild.py --debs ./debs --out ./openphotos-rebuilt   # .deb files already downloaded\n"
        ),
    )
    parser.add_argument("--check", action="store_true", help="verify committed files against manifest.csv, then rebuild in a temporary folder and compare")
    parser.add_argument("--no-rebuild", action="store_true", help="with --check: only hash the committed files (no apt-get, no pip)")
    parser.add_argument("--out", type=Path, default=HERE, help="where to write images/, CREDITS.csv, manifest.csv (default: next to this script)")
    parser.add_argument("--debs", type=Path, help="folder holding the .deb files (else apt-get download)")
    parser.add_argument("--wheels", type=Path, help="folder holding the scikit-image 0.26.0 wheel (else an installed copy or pip download)")
    parser.add_argument("--no-system", action="store_true", help="do not read installed packages even when the exact version is installed")
    parser.add_argument("--workdir", type=Path, help="keep downloads here (default: a temporary folder, removed afterwards)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="openphotos-") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if args.check:
            return check(work, args.debs, args.wheels, not args.no_system, not args.no_rebuild)
        print(versions())
        build(args.out, work, args.debs, args.wheels, not args.no_system)
    return 0


if __name__ == "__main__":
    sys.exit(main())
