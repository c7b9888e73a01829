from glob import glob

from setuptools import find_packages, setup

package_name = 'hilserl_console'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    package_data={package_name: ['web/*']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/web', glob('hilserl_console/web/*')),
    ],
    install_requires=['setuptools'],
    zip_safe=False,
    maintainer='SO-101 HIL-SERL maintainers',
    maintainer_email='maintainers@so101-hilserl.org',
    description=('The operator console: one browser page with the cameras, the reward, the '
                 'episode history, the learner and the diagnostics, and the operator buttons.'),
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'console = hilserl_console.node:main',
        ],
    },
)
