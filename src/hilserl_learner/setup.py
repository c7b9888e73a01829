from setuptools import find_packages, setup

package_name = 'hilserl_learner'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='SO-101 HIL-SERL maintainers',
    maintainer_email='maintainers@so101-hilserl.org',
    description=('SAC + RLPD learner for HIL-SERL: networks, updates, replay and demo buffers, '
                 'demo loading from bags, checkpoints and weight broadcast.'),
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'learner = hilserl_learner.node:main',
        ],
    },
)
