"""Sphinx configuration of xenpool_driver's documentation (``tox -e docs``).

The pages are Markdown (MyST); the configuration reference is generated from
the option definitions (``oslo_config.sphinxext``) and the command reference
from the command's parsers (``cliff.sphinxext``).
"""

import os
import sys

# doc/_ext: this documentation's own Sphinx extensions
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '_ext'))

project = 'xenpool_driver'
author = 'xenpool_driver developers'
copyright = '2026, xenpool_driver developers'

extensions = [
    'myst_parser',
    'oslo_config.sphinxext',
    # cliff.sphinxext's autoprogram-cliff, each command once (doc/_ext/cliref.py)
    'cliref',
]

source_suffix = {'.md': 'markdown', '.rst': 'restructuredtext'}
root_doc = 'index'
# NOTE: requirements.txt and the built HTML live beside the pages
exclude_patterns = ['build', 'requirements.txt', '_ext']

# NOTE: headings get GitHub's anchors, so a page.md#section link works both on
# the repository's pages and in the built HTML
myst_heading_anchors = 3
myst_enable_extensions = ['colon_fence']

# NOTE: options are written --like-this: no en dash for '--'
smartquotes = False

# the command reference (cliff.sphinxext): its program name; -h/--help and the
# table/JSON fine-tuning every cliff command has are left out of each command
# (doc/cli.md says they exist); no "provided by the ... plugin" on each
autoprogram_cliff_application = 'xenpool'
autoprogram_cliff_app_dist_name = 'xenpool_driver'
autoprogram_cliff_ignored = ['--help', '--noindent', '--prefix', '--max-width',
                             '--fit-width', '--print-empty']

html_theme = 'alabaster'
html_static_path = []
