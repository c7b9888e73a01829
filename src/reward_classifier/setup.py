from setuptools import find_packages, setup

package_name = 'reward_classifier'

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
    description=('Image success classifier for HIL-SERL rewards: model, datasets from bags, '
                 'training and evaluation commands, and the serving node.'),
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'reward_classifier = reward_classifier.node:main',
            'reward_classifier_cli = reward_classifier.cli:main',
        ],
    },
)
