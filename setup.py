"""Packaging for cpsample-nb: everything is read from settings.ini (the nbdev 2 convention)."""
from configparser import ConfigParser
from pathlib import Path

import setuptools

cfg = ConfigParser(delimiters=['='])
cfg.read(Path(__file__).parent / 'settings.ini')
cfg = cfg['DEFAULT']

for key in ('lib_name', 'version', 'description', 'author', 'author_email', 'license', 'min_python'):
    assert key in cfg, f'settings.ini is missing `{key}`'

long_description = (Path(__file__).parent / 'README.md').read_text(encoding='utf-8')

setuptools.setup(
    name=cfg['lib_name'],
    version=cfg['version'],
    description=cfg['description'],
    long_description=long_description,
    long_description_content_type='text/markdown',
    author=cfg['author'],
    author_email=cfg['author_email'],
    license='Apache-2.0',
    url=cfg['git_url'],
    packages=setuptools.find_packages(include=['cpsample_nb', 'cpsample_nb.*']),
    include_package_data=True,
    package_data={'cpsample_nb': ['assets/**/*']},
    python_requires='>=' + cfg['min_python'],
    install_requires=cfg.get('requirements', '').split(),
    extras_require={'dev': cfg.get('dev_requirements', '').split()},
    entry_points={
        'console_scripts': cfg.get('console_scripts', '').split(),
        'nbdev': [f'{cfg["lib_path"]}={cfg["lib_path"]}._modidx:d'],
    },
    keywords=cfg.get('keywords', ''),
    zip_safe=False,
)
