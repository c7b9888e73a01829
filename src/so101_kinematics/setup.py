from setuptools import find_packages, setup

package_name = 'so101_kinematics'

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
    description=('MuJoCo forward and inverse kinematics of the SO-101 gripperframe, closed loop on '
                 'measured joints, with the IK/FK service node and EE pose publisher.'),
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'kinematics = so101_kinematics.node:main',
        ],
    },
)
