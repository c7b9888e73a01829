from glob import glob

from setuptools import find_packages, setup

package_name = 'hilserl_experiments'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/experiments', glob('experiments/*.yaml')),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='SO-101 HIL-SERL maintainers',
    maintainer_email='maintainers@so101-hilserl.org',
    description='The experiments on the SO-101: the main job and its stages, the in-process '
                'harness, the image encoder\'s pretraining, the report and the real-arm '
                'rehearsal, with one config file per experiment.',
    license='Apache-2.0',
)
