"""Sphinx configuration of xenpool_driver's documentation (``tox -e docs``).

The pages are Markdown (MyST); the configuration reference is generated from
the option definitions (``oslo_config.sphinxext``) and the command reference
from the command's parsers (``cliff.sphinxext``).
"""

project = 'xenpool_driver'
author = 'xenpool_driver developers'
copyright = '2026, xenpool_driver developers'

extensions = [
    'myst_parser',
    'oslo_config.sphinxext',
    'cliff.sphinxext',
]

source_suffix = {'.md': 'markdown', '.rst': 'restructuredtext'}
root_doc = 'index'
# NOTE: requirements.txt and the built HTML live beside the pages
exclude_patterns = ['build', 'requirements.txt']

# NOTE: `inline code` paths of the repository stay text, never links
myst_heading_anchors = 3
myst_enable_extensions = ['colon_fence']

html_theme = 'alabaster'
html_static_path = []
